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
	// KeyAzureSASToken is a shared access signature for the account or the container
	// (the query string, with or without its leading "?"), used instead of the key.
	KeyAzureSASToken = "azuresastoken"
	// KeyGCP is a Google service-account JSON document.
	KeyGCP = "gcp"
)

var secretKeys = []string{KeyAWSAccessKeyID, KeyAWSSecretAccessKey, KeyAWSRegion, KeyAWSEndpoint,
	KeyAzureStorageAccount, KeyAzureStorageKey, KeyAzureSASToken, KeyGCP}

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
	KeyAzureSASToken:       "AZURE_STORAGE_SAS_TOKEN",
}

// EnvCredentials returns a source that reads the process environment at each use:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3,
// AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, and for gcp the file named by
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

// AzureAuth is how an Azure Blob client authenticates, chosen by the Secret's shape.
type AzureAuth string

const (
	// AzureSharedKey signs requests with the account key (azurestoragekey).
	AzureSharedKey AzureAuth = "SharedKey"
	// AzureSAS appends a shared access signature (azuresastoken) to every request.
	AzureSAS AzureAuth = "SAS"
	// AzureIdentity takes Microsoft Entra tokens from the pod's identity: workload
	// identity when its environment is present (AZURE_FEDERATED_TOKEN_FILE, set by the
	// AKS workload identity webhook), else the managed identity of the node.
	AzureIdentity AzureAuth = "Identity"
)

// Azure is what an Azure Blob client needs.
type Azure struct {
	// Account is the storage account name.
	Account string
	// Auth is how requests are authenticated.
	Auth AzureAuth
	// Key is the base64 account key (SharedKey).
	Key string
	// SAS is the shared access signature, without a leading "?" (SAS).
	SAS string
}

// String redacts the key and the signature.
func (a Azure) String() string {
	return fmt.Sprintf("storage.Azure{Account:%q Auth:%s secrets: redacted}", a.Account, a.Auth)
}

// Format makes every fmt verb print String.
func (a Azure) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// Azure returns the account and how to authenticate: the account key, a SAS token, or
// (neither set) the pod's Microsoft Entra identity. azure:// always needs the account.
func (c Credentials) Azure() (Azure, error) {
	a := Azure{Account: c.data[KeyAzureStorageAccount], Key: c.data[KeyAzureStorageKey],
		SAS: strings.TrimPrefix(c.data[KeyAzureSASToken], "?")}
	if a.Account == "" {
		return Azure{}, fmt.Errorf("azure:// needs %s in the secret, with %s, or %s, or neither to use the pod's workload or managed identity",
			KeyAzureStorageAccount, KeyAzureStorageKey, KeyAzureSASToken)
	}
	if len(a.Account) < 3 || len(a.Account) > 24 || !lowerAlnum(a.Account) {
		return Azure{}, fmt.Errorf("%s must be 3 to 24 lower-case letters and digits", KeyAzureStorageAccount)
	}
	switch {
	case a.Key != "" && a.SAS != "":
		return Azure{}, fmt.Errorf("secret sets both %s and %s: keep one", KeyAzureStorageKey, KeyAzureSASToken)
	case a.Key != "":
		if _, err := base64.StdEncoding.DecodeString(a.Key); err != nil {
			return Azure{}, fmt.Errorf("%s is not valid base64", KeyAzureStorageKey)
		}
		a.Auth = AzureSharedKey
	case a.SAS != "":
		// Errors never quote the token: it is a credential.
		q, err := url.ParseQuery(a.SAS)
		if err != nil || q.Get("sig") == "" || q.Get("sv") == "" {
			return Azure{}, fmt.Errorf("%s is not a shared access signature (a query string with sv= and sig=)", KeyAzureSASToken)
		}
		a.Auth = AzureSAS
	default:
		a.Auth = AzureIdentity
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
	// JSON is the service-account JSON; nil means ADC or Anonymous.
	JSON []byte
	// ProjectID is the service account's project, used to create buckets.
	ProjectID string
	// ADC means no key was given: Application Default Credentials (GKE Workload
	// Identity's metadata server, or GOOGLE_APPLICATION_CREDENTIALS of the process).
	ADC bool
	// Anonymous means unauthenticated requests, only to an emulator on plain HTTP.
	Anonymous bool
}

// String redacts the JSON.
func (g GCP) String() string {
	return fmt.Sprintf("storage.GCP{ProjectID:%q ADC:%t Anonymous:%t JSON: %d bytes, redacted}", g.ProjectID, g.ADC, g.Anonymous, len(g.JSON))
}

// Format makes every fmt verb print String.
func (g GCP) Format(f fmt.State, _ rune) { fmt.Fprint(f, g.String()) }

// GCSAnonymous reports whether a Secret without the gcp key means unauthenticated
// requests for this endpoint override: only for an emulator on plain HTTP, where a
// bearer token would travel in clear. Every other endpoint, the public one included,
// gets Application Default Credentials.
func GCSAnonymous(endpoint string) bool { return strings.HasPrefix(endpoint, "http://") }

// GCP returns the service-account JSON, or without it Application Default Credentials
// (Workload Identity), or anonymous access for an emulator (see GCSAnonymous).
func (c Credentials) GCP(endpoint string) (GCP, error) {
	raw, ok := c.data[KeyGCP]
	if !ok {
		if GCSAnonymous(endpoint) {
			return GCP{Anonymous: true}, nil
		}
		return GCP{ADC: true}, nil
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
