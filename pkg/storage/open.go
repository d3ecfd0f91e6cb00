package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is what a Provider needs besides its location. The zero Config is usable: no
// credentials (S3 falls back to the SDK's default chain), HTTPS, default part size and
// concurrency.
type Config struct {
	// Credentials resolves the Secret's credentials at each operation; nil means none.
	Credentials CredentialSource
	// Insecure talks HTTP instead of HTTPS to S3 and Azure (the request's insecure field).
	Insecure bool
	// AzureEndpoint overrides the Azure Blob service URL (emulators, sovereign clouds);
	// "{account}" in it is replaced by the storage account. Default
	// "{account}.blob.core.windows.net". Without a scheme, Insecure picks http or https.
	AzureEndpoint string
	// GCSEndpoint overrides the Google Cloud Storage JSON API endpoint, for example
	// "http://127.0.0.1:4443/storage/v1/". With it, a Secret without gcp means anonymous.
	GCSEndpoint string
	// PartSize is the size of one uploaded part or block; 0 means DefaultPartSize.
	PartSize int64
	// UploadCutoff is, for S3, the size up to which a file (a random-access source) is
	// sent as one PutObject instead of in parts; 0 means DefaultUploadCutoff. Streams
	// always go in parts. One request spares the server from joining parts, the way
	// rclone's --s3-upload-cutoff does; parts give one large file parallel requests.
	UploadCutoff int64
	// Concurrency is the number of parts of one object in flight; 0 means
	// DefaultConcurrency.
	Concurrency int
	// ListPageSize is the number of keys per list request; 0 means the backend's default.
	ListPageSize int
	// HTTPClient, if set, carries all requests (tests, proxies) and brings its own
	// timeouts; nil means the pooled client of HTTPClient(Timeouts).
	HTTPClient *http.Client
	// Timeouts bound every remote call; the zero value means the defaults.
	Timeouts Timeouts
	// Retry is how each request is retried; the zero value means the defaults.
	Retry Retry
}

// Defaults for Config.
const (
	// DefaultPartSize is the part size of multipart uploads.
	DefaultPartSize = 8 << 20
	// DefaultConcurrency is the number of parts of one object uploaded at once.
	DefaultConcurrency = 4
	// DefaultUploadCutoff covers the SSTables of leveled compaction (160 MiB by default)
	// and rclone's default (200 MiB).
	DefaultUploadCutoff = 256 << 20
)

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Credentials == nil {
		c.Credentials = StaticCredentials(nil)
	}
	if c.PartSize <= 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.UploadCutoff <= 0 {
		c.UploadCutoff = DefaultUploadCutoff
	}
	c.Timeouts = c.Timeouts.WithDefaults()
	c.Retry = c.Retry.WithDefaults()
	return c
}

// Opener opens a Provider for a location whose scheme it was registered for. It checks
// the credentials' rules once, so a bad Secret fails here, without network traffic.
type Opener func(ctx context.Context, loc Location, cfg Config) (Provider, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes open the Opener of scheme; provider packages call it from init.
// Registering a scheme twice panics.
func Register(scheme string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("storage: scheme registered twice: " + scheme)
	}
	registry[scheme] = open
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var s []string
	for k := range registry {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Open returns the Provider for loc's bucket, chosen by its scheme.
func Open(ctx context.Context, loc Location, cfg Config) (Provider, error) {
	registryMu.RLock()
	open, ok := registry[loc.Scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("no storage provider registered for %s:// (registered: %s); import its package under pkg/storage", loc.Scheme, strings.Join(Schemes(), ", "))
	}
	p, err := open(ctx, loc, cfg.WithDefaults())
	if err != nil {
		return nil, fmt.Errorf("open %s://%s: %w", loc.Scheme, loc.Bucket, err)
	}
	return checked{p}, nil
}

// OpenLocation parses a storageLocation and opens its Provider.
func OpenLocation(ctx context.Context, storageLocation string, cfg Config) (Provider, Location, error) {
	loc, err := ParseLocation(storageLocation)
	if err != nil {
		return nil, Location{}, err
	}
	p, err := Open(ctx, loc, cfg)
	if err != nil {
		return nil, Location{}, err
	}
	return p, loc, nil
}

// BucketPolicy holds the request fields about the bucket.
type BucketPolicy struct {
	// CreateMissingBucket creates the bucket when it does not exist.
	CreateMissingBucket bool
	// SkipBucketVerification skips the existence check; a missing bucket then fails the
	// first write.
	SkipBucketVerification bool
}

// EnsureBucket applies the policy before a backup: the one place where
// createMissingBucket and skipBucketVerification take effect. With
// SkipBucketVerification it does nothing (no request at all). Otherwise a missing bucket
// is created when CreateMissingBucket is set (losing a creation race is fine), or else
// reported as ErrBucketNotFound.
func EnsureBucket(ctx context.Context, p Provider, policy BucketPolicy) error {
	if policy.SkipBucketVerification {
		return nil
	}
	ok, err := p.BucketExists(ctx)
	if err != nil {
		return fmt.Errorf("check bucket %s: %w", p.Bucket(), err)
	}
	if ok {
		return nil
	}
	if !policy.CreateMissingBucket {
		return fmt.Errorf("bucket %s: %w (set createMissingBucket: true to create it)", p.Bucket(), ErrBucketNotFound)
	}
	if err := p.CreateBucket(ctx); err != nil && !errors.Is(err, ErrBucketExists) {
		return fmt.Errorf("create bucket %s: %w", p.Bucket(), err)
	}
	return nil
}

// SHA256Reader hashes and counts what is read through it. At the end of the stream it
// returns ErrChecksumMismatch instead of io.EOF when the content differs from the
// expected digest, so an uploader that stops at the error never commits the object.
type SHA256Reader struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	expected string
}

// NewSHA256Reader wraps r; expected is a hex SHA-256 or empty.
func NewSHA256Reader(r io.Reader, expected string) *SHA256Reader {
	return &SHA256Reader{r: r, h: sha256.New(), expected: strings.ToLower(expected)}
}

// Read reads from the wrapped reader and hashes what it got.
func (s *SHA256Reader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if err == io.EOF && s.expected != "" {
		if got := s.Sum(); got != s.expected {
			return n, fmt.Errorf("%w: content has %s, expected %s", ErrChecksumMismatch, got, s.expected)
		}
	}
	return n, err
}

// Sum returns the hex SHA-256 of what was read so far.
func (s *SHA256Reader) Sum() string { return hex.EncodeToString(s.h.Sum(nil)) }

// N returns the number of bytes read so far.
func (s *SHA256Reader) N() int64 { return s.n }

// ValidateKey checks an object key: non-empty, at most 1024 bytes, valid, no NUL.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("object key is empty")
	case len(key) > 1024:
		return fmt.Errorf("object key is %d bytes long: at most 1024", len(key))
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("object key %q contains a NUL byte", key)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("object key %q starts with /", key)
	}
	return nil
}

// ValidateSHA256 checks that s is empty or 64 hex digits.
func ValidateSHA256(s string) error {
	if s == "" {
		return nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("sha256 %q is not 64 hex digits", s)
	}
	return nil
}

// Validate checks the options of a Put.
func (o PutOptions) Validate() error {
	if err := ValidateSHA256(o.SHA256); err != nil {
		return err
	}
	return ValidateMetadata(o.Metadata)
}

// Validate checks a Range.
func (r Range) Validate() error {
	if r.Offset < 0 {
		return fmt.Errorf("range offset %d is negative", r.Offset)
	}
	if r.Length < 0 {
		return fmt.Errorf("range length %d is negative (0 means to the end)", r.Length)
	}
	return nil
}

// Validate checks the options of a Refresh.
func (o RefreshOptions) Validate() error {
	if _, err := ParseMetadataDirective(string(o.Directive)); err != nil {
		return err
	}
	if o.Directive != MetadataReplace && len(o.Metadata) > 0 {
		return fmt.Errorf("refresh metadata given with metadataDirective COPY: use REPLACE to change metadata")
	}
	return ValidateMetadata(o.Metadata)
}

// ValidateMetadata checks user metadata against what every backend accepts: keys are a
// lower-case letter followed by lower-case letters, digits and underscores (Azure
// requires identifiers; S3 and GCS fold case), values are printable ASCII.
func ValidateMetadata(m map[string]string) error {
	for k, v := range m {
		if k == "" {
			return fmt.Errorf("metadata key is empty")
		}
		for i, c := range k {
			if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
				return fmt.Errorf("metadata key %q: want a lower-case letter followed by lower-case letters, digits and _", k)
			}
		}
		for _, c := range v {
			if c < 0x20 || c > 0x7e {
				return fmt.Errorf("metadata %q: value must be printable ASCII", k)
			}
		}
	}
	return nil
}

// Stamp returns metadata m (copied) with MetaRefreshed set to now, as Refresh writes it.
func Stamp(m map[string]string, now time.Time) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[MetaRefreshed] = now.UTC().Format(time.RFC3339Nano)
	return out
}

// LowerKeys returns user metadata as Provider methods return it: with lower-case keys
// (backends that fold case hand keys back capitalized).
func LowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// WithSHA256 returns the metadata of a Put: opts.Metadata plus MetaSHA256 when known.
func (o PutOptions) WithSHA256() map[string]string {
	out := make(map[string]string, len(o.Metadata)+1)
	for k, v := range o.Metadata {
		out[k] = v
	}
	if o.SHA256 != "" {
		out[MetaSHA256] = strings.ToLower(o.SHA256)
	}
	return out
}
