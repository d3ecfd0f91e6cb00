// Package storage is the one interface the agent and the operator use to reach backup
// storage: S3, Azure Blob, Google Cloud Storage or a local directory. A Provider is bound
// to one bucket; its keys are object names inside that bucket. Implementations live in
// the sub-packages s3, azure, gcs and file, and register themselves by location scheme.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"
)

// Provider reads and writes the objects of one bucket.
//
// Every method resolves credentials from the provider's CredentialSource when it is
// called, so a rotated secret takes effect on the next call. Methods are safe for
// concurrent use.
type Provider interface {
	// Bucket returns the name of the bucket (container, directory) the provider is bound to.
	Bucket() string
	// BucketExists reports whether the bucket exists.
	BucketExists(ctx context.Context) (bool, error)
	// CreateBucket creates the bucket; it returns an error wrapping ErrBucketExists when it
	// already exists.
	CreateBucket(ctx context.Context) error
	// Put streams r to key (multipart, parts uploaded concurrently where the backend
	// allows it) and returns what was stored, including the SHA-256 of the content,
	// computed while streaming. The object is committed only when r is read to its end
	// without error (and, if opts.SHA256 is set, the content matches it).
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// Get streams the bytes of key within rng. The caller closes the reader.
	Get(ctx context.Context, key string, rng Range) (io.ReadCloser, error)
	// Head returns the size, checksum and metadata of key.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List yields the objects whose keys start with prefix, page by page; it never holds
	// the whole listing in memory. The order is not specified. Listed ObjectInfos carry
	// Key, Size and ModTime only. The iteration stops at the first error, which it yields.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// Delete removes key. Deleting a key that does not exist is not an error.
	Delete(ctx context.Context, key string) error
	// Refresh re-touches key in place so that bucket lifecycle rules see it as new,
	// keeping (MetadataCopy) or replacing (MetadataReplace) its user metadata.
	Refresh(ctx context.Context, key string, opts RefreshOptions) error
	// Close releases the provider's resources.
	Close() error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	// Key is the object's name inside the bucket.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written or refreshed.
	ModTime time.Time
	// SHA256 is the hex SHA-256 of the content: computed by Put while streaming, and
	// returned by Head when the object carries it in its metadata (MetaSHA256), which Put
	// stores when the caller passes PutOptions.SHA256.
	SHA256 string
	// ETag is the backend's entity tag, if it has one.
	ETag string
	// Metadata is the object's user metadata, with lower-case keys.
	Metadata map[string]string
}

// PutOptions tune one Put.
type PutOptions struct {
	// SHA256, when set, is the expected hex SHA-256 of the content: it is stored in the
	// object's metadata under MetaSHA256, and Put fails without committing the object
	// (ErrChecksumMismatch) when the streamed content differs.
	SHA256 string
	// Metadata is user metadata to store with the object (lower-case keys).
	Metadata map[string]string
	// ContentType is the object's MIME type; empty means application/octet-stream.
	ContentType string
	// Meter, when set, is told of the content as it leaves for the backend, and may hold
	// it back (a bandwidth cap). It sees what is sent, not the local passes a provider
	// makes first (S3 reads a file once for its SHA-256 and each part once for its CRC32
	// before sending it); a part sent again after an error is reported again.
	Meter Meter
}

// Range selects bytes of an object: Length bytes starting at Offset. A zero Length means
// up to the end of the object. The zero Range is the whole object.
type Range struct {
	// Offset is the first byte to read.
	Offset int64
	// Length is how many bytes to read; 0 reads to the end.
	Length int64
}

// MetadataDirective says what Refresh does with an object's user metadata.
type MetadataDirective string

const (
	// MetadataCopy keeps the object's user metadata (the default).
	MetadataCopy MetadataDirective = "COPY"
	// MetadataReplace replaces the object's user metadata with RefreshOptions.Metadata.
	MetadataReplace MetadataDirective = "REPLACE"
)

// ParseMetadataDirective validates a metadataDirective request field; empty means COPY.
func ParseMetadataDirective(s string) (MetadataDirective, error) {
	switch MetadataDirective(s) {
	case "", MetadataCopy:
		return MetadataCopy, nil
	case MetadataReplace:
		return MetadataReplace, nil
	}
	return "", fmt.Errorf("metadataDirective %q is not COPY or REPLACE", s)
}

// RefreshOptions tune one Refresh.
type RefreshOptions struct {
	// Directive is COPY (keep metadata; the default when empty) or REPLACE.
	Directive MetadataDirective
	// Metadata replaces the user metadata when Directive is REPLACE.
	Metadata map[string]string
}

// Metadata keys this package writes.
const (
	// MetaSHA256 holds the hex SHA-256 of an object's content.
	MetaSHA256 = "sha256"
	// MetaRefreshed holds the time of the last Refresh (RFC 3339, nanoseconds); writing
	// it is what makes an S3 self-copy legal.
	MetaRefreshed = "refreshed"
)

// Errors that callers test with errors.Is.
var (
	// ErrNotFound means the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrBucketNotFound means the bucket does not exist.
	ErrBucketNotFound = errors.New("bucket not found")
	// ErrBucketExists means CreateBucket found the bucket already there.
	ErrBucketExists = errors.New("bucket already exists")
	// ErrChecksumMismatch means streamed content did not match PutOptions.SHA256.
	ErrChecksumMismatch = errors.New("sha256 mismatch")
)
