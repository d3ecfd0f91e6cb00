package storage

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
)

// The Secret keys of the guide; no other keys are read.
const (
	// KeyAWSAccessKeyID is the AWS access key id.
	KeyAWSAccessKeyID = "awsaccesskeyid"
	// KeyAWSSecretAccessKey is the AWS secret access key.
	KeyAWSSecretAccessKey = "awssecretaccesskey"
	// KeyAWSRegion is the AWS region.
	KeyAWSRegion = "awsregion"
	// KeyAWSEndpoint is an S3-compatible endpoint, addressed path-style.
	KeyAWSEndpoint = "awsendpoint"
	// KeyAzureStorageAccount is the Azure storage account name.
	KeyAzureStorageAccount = "azurestorageaccount"
	// KeyAzureStorageKey is the Azure storage account key (base64).
	KeyAzureStorageKey = "azurestoragekey"
	// KeyGCP is a Google service-account JSON document.
	KeyGCP = "gcp"
)

var secretKeys = []string{KeyAWSAccessKeyID, KeyAWSSecretAccessKey, KeyAWSRegion, KeyAWSEndpoint,
	KeyAzureStorageAccount, KeyAzureStorageKey, KeyGCP}

// Credentials are the cloud credentials of one Secret. Their values never appear when a
// Credentials is printed, formatted or marshalled: only the names of the keys that are set.
type Credentials struct {
	data map[string]string
}

// NewCredentials builds Credentials from a Secret's data. Keys other than the guide's are
// ignored; values are trimmed of surrounding white space (a trailing newline from
// `kubectl create secret --from-file` is common) and empty values count as unset.
func NewCredentials(data map[string][]byte) Credentials {
	c := Credentials{data: map[string]string{}}
	for _, k := range secretKeys {
		if v := strings.TrimSpace(string(data[k])); v != "" {
			c.data[k] = v
		}
	}
	return c
}

// Keys returns the names of the keys that are set, sorted.
func (c Credentials) Keys() []string {
	keys := make([]string, 0, len(c.data))
	for k := range c.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Has reports whether key is set.
func (c Credentials) Has(key string) bool { _, ok := c.data[key]; return ok }

// String names the keys that are set, never their values.
func (c Credentials) String() string {
	return "storage.Credentials{" + strings.Join(c.Keys(), ",") + ": redacted}"
}

// GoString is String, so %#v redacts too.
func (c Credentials) GoString() string { return c.String() }

// Format makes every fmt verb print String.
func (c Credentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// MarshalJSON writes the names of the keys that are set, never their values.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"keys": c.Keys()})
}

// Fingerprint returns a digest of the values, to tell whether credentials changed.
func (c Credentials) Fingerprint() [32]byte {
	h := sha256.New()
	for _, k := range c.Keys() {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(k), k, len(c.data[k]), c.data[k])
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// CredentialSource resolves credentials at the moment of use; providers call it once per
// operation, so a rotated Secret takes effect on the next operation.
type CredentialSource interface {
	// Credentials returns the current credentials.
	Credentials(ctx context.Context) (Credentials, error)
}

// CredentialSourceFunc adapts a function to CredentialSource (for example one that reads
// the Secret from the Kubernetes API).
type CredentialSourceFunc func(ctx context.Context) (Credentials, error)

// Credentials calls f.
func (f CredentialSourceFunc) Credentials(ctx context.Context) (Credentials, error) { return f(ctx) }

// StaticCredentials returns a source that always yields the credentials of data.
func StaticCredentials(data map[string][]byte) CredentialSource {
	c := NewCredentials(data)
	return CredentialSourceFunc(func(context.Context) (Credentials, error) { return c, nil })
}

// Environment variables read by EnvCredentials, per Secret key.
var envKeys = map[string]string{
	KeyAWSAccessKeyID:      "AWS_ACCESS_KEY_ID",
	KeyAWSSecretAccessKey:  "AWS_SECRET_ACCESS_KEY",
	KeyAWSRegion:           "AWS_REGION",
	KeyAWSEndpoint:         "AWS_ENDPOINT_URL_S3",
	KeyAzureStorageAccount: "AZURE_STORAGE_ACCOUNT",
	KeyAzureStorageKey:     "AZURE_STORAGE_KEY",
}

// EnvCredentials returns a source that reads the process environment at each use:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3,
// AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, and for gcp the file named by
// GOOGLE_APPLICATION_CREDENTIALS.
func EnvCredentials() CredentialSource {
	return CredentialSourceFunc(func(context.Context) (Credentials, error) {
		data := map[string][]byte{}
		for k, env := range envKeys {
			data[k] = []byte(os.Getenv(env))
		}
		if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return Credentials{}, fmt.Errorf("read GOOGLE_APPLICATION_CREDENTIALS: %w", err)
			}
			data[KeyGCP] = b
		}
		return NewCredentials(data), nil
	})
}

// AWS is what an S3 client needs, derived from Credentials by the guide's rules.
type AWS struct {
	// AccessKeyID and SecretAccessKey are empty when DefaultChain is set.
	AccessKeyID, SecretAccessKey string
	// Region is the region; empty leaves it to the SDK's default chain.
	Region string
	// Endpoint is an S3-compatible endpoint URL with scheme, addressed path-style; empty
	// means AWS itself.
	Endpoint string
	// DefaultChain means no keys were given: use the SDK's default credential chain.
	DefaultChain bool
	// Insecure means HTTP instead of HTTPS.
	Insecure bool
}

// String redacts the keys.
func (a AWS) String() string {
	return fmt.Sprintf("storage.AWS{Region:%q Endpoint:%q DefaultChain:%t Insecure:%t keys: redacted}", a.Region, a.Endpoint, a.DefaultChain, a.Insecure)
}

// Format makes every fmt verb print String.
func (a AWS) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// AWS applies the guide's rules: awsendpoint without awsregion fails; a region without an
// endpoint sets only the region; no keys selects the SDK's default chain; one key without
// the other fails. insecure selects HTTP for an endpoint given without a scheme, and an
// http:// endpoint requires it.
func (c Credentials) AWS(insecure bool) (AWS, error) {
	a := AWS{
		AccessKeyID:     c.data[KeyAWSAccessKeyID],
		SecretAccessKey: c.data[KeyAWSSecretAccessKey],
		Region:          c.data[KeyAWSRegion],
		Insecure:        insecure,
	}
	switch {
	case a.AccessKeyID == "" && a.SecretAccessKey == "":
		a.DefaultChain = true
	case a.AccessKeyID == "":
		return AWS{}, fmt.Errorf("secret sets %s but not %s: set both, or neither to use the default AWS credential chain", KeyAWSSecretAccessKey, KeyAWSAccessKeyID)
	case a.SecretAccessKey == "":
		return AWS{}, fmt.Errorf("secret sets %s but not %s: set both, or neither to use the default AWS credential chain", KeyAWSAccessKeyID, KeyAWSSecretAccessKey)
	}
	if ep, ok := c.data[KeyAWSEndpoint]; ok {
		if a.Region == "" {
			return AWS{}, fmt.Errorf("%s is specified but %s is not set", KeyAWSEndpoint, KeyAWSRegion)
		}
		u, err := EndpointURL(KeyAWSEndpoint, ep, insecure)
		if err != nil {
			return AWS{}, err
		}
		a.Endpoint = u
	}
	if a.Region != "" && !validRegion(a.Region) {
		return AWS{}, fmt.Errorf("%s is not a region name (lower-case letters, digits and hyphens)", KeyAWSRegion)
	}
	return a, nil
}

// EndpointURL normalizes an endpoint: without a scheme it gets http:// when insecure and
// https:// otherwise; http:// requires insecure. Errors never quote the value, since it
// may come from a Secret.
func EndpointURL(what, ep string, insecure bool) (string, error) {
	if !strings.Contains(ep, "://") {
		if insecure {
			ep = "http://" + ep
		} else {
			ep = "https://" + ep
		}
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s is not a URL with a host", what)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure {
			return "", fmt.Errorf("%s uses http:// but insecure is false: set insecure: true to talk HTTP", what)
		}
	default:
		return "", fmt.Errorf("%s has scheme %q: want http or https", what, u.Scheme)
	}
	if u.User != nil {
		return "", fmt.Errorf("%s must not carry user information", what)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s must not have a query or fragment", what)
	}
	return u.String(), nil
}

func validRegion(r string) bool {
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Azure is what an Azure Blob client needs.
type Azure struct {
	// Account is the storage account name.
	Account string
	// Key is the base64 account key.
	Key string
}

// String redacts the key.
func (a Azure) String() string {
	return fmt.Sprintf("storage.Azure{Account:%q Key: redacted}", a.Account)
}

// Format makes every fmt verb print String.
func (a Azure) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// Azure returns the Azure account and key; azure:// needs both.
func (c Credentials) Azure() (Azure, error) {
	a := Azure{Account: c.data[KeyAzureStorageAccount], Key: c.data[KeyAzureStorageKey]}
	var missing []string
	if a.Account == "" {
		missing = append(missing, KeyAzureStorageAccount)
	}
	if a.Key == "" {
		missing = append(missing, KeyAzureStorageKey)
	}
	if len(missing) > 0 {
		return Azure{}, fmt.Errorf("azure:// needs %s and %s in the secret; missing: %s", KeyAzureStorageAccount, KeyAzureStorageKey, strings.Join(missing, ", "))
	}
	if len(a.Account) < 3 || len(a.Account) > 24 || !lowerAlnum(a.Account) {
		return Azure{}, fmt.Errorf("%s must be 3 to 24 lower-case letters and digits", KeyAzureStorageAccount)
	}
	if _, err := base64.StdEncoding.DecodeString(a.Key); err != nil {
		return Azure{}, fmt.Errorf("%s is not valid base64", KeyAzureStorageKey)
	}
	return a, nil
}

func lowerAlnum(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// GCP is what a Google Cloud Storage client needs.
type GCP struct {
	// JSON is the service-account JSON; nil means unauthenticated (emulators only).
	JSON []byte
	// ProjectID is the service account's project, used to create buckets.
	ProjectID string
}

// String redacts the JSON.
func (g GCP) String() string {
	return fmt.Sprintf("storage.GCP{ProjectID:%q JSON: %d bytes, redacted}", g.ProjectID, len(g.JSON))
}

// Format makes every fmt verb print String.
func (g GCP) Format(f fmt.State, _ rune) { fmt.Fprint(f, g.String()) }

// GCP returns the service-account JSON. gcp:// needs it unless anonymous is allowed,
// which is the case only with a configured endpoint override (an emulator).
func (c Credentials) GCP(anonymousAllowed bool) (GCP, error) {
	raw, ok := c.data[KeyGCP]
	if !ok {
		if anonymousAllowed {
			return GCP{}, nil
		}
		return GCP{}, fmt.Errorf("gcp:// needs the %s key (service-account JSON) in the secret", KeyGCP)
	}
	var doc struct {
		Type      string `json:"type"`
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return GCP{}, fmt.Errorf("%s is not valid JSON: want a service-account key file", KeyGCP)
	}
	if doc.Type != "service_account" {
		return GCP{}, fmt.Errorf("%s JSON has type %q: want a service-account key file (type service_account)", KeyGCP, doc.Type)
	}
	return GCP{JSON: []byte(raw), ProjectID: doc.ProjectID}, nil
}

// Clients caches one client built from resolved credentials and rebuilds it when they
// change, so providers resolve credentials on every operation without rebuilding a
// client each time.
type Clients[C any] struct {
	// Source resolves the credentials.
	Source CredentialSource
	// Build makes a client for resolved credentials.
	Build func(Credentials) (C, error)

	mu     sync.Mutex
	fp     [32]byte
	client C
	built  bool
}

// Get resolves the credentials and returns the client for them.
func (c *Clients[C]) Get(ctx context.Context) (C, error) {
	var zero C
	creds, err := c.Source.Credentials(ctx)
	if err != nil {
		return zero, fmt.Errorf("resolve credentials: %w", err)
	}
	fp := creds.Fingerprint()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.built && fp == c.fp {
		return c.client, nil
	}
	cl, err := c.Build(creds)
	if err != nil {
		return zero, err
	}
	c.client, c.fp, c.built = cl, fp, true
	return cl, nil
}

// Current returns the last client built, without resolving credentials.
func (c *Clients[C]) Current() (C, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client, c.built
}
