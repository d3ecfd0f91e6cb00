// Package s3 is the storage.Provider for s3:// locations: Amazon S3, or any S3-compatible
// server named by the Secret's awsendpoint (addressed path-style). Files up to
// Config.UploadCutoff go as one PutObject; larger files and streams go through the SDK's
// upload manager (multipart, concurrent parts).
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

func init() { storage.Register(storage.SchemeS3, Open) }

// maxCopySize is the largest object CopyObject accepts; larger ones are refreshed with a
// multipart copy.
const maxCopySize = 5 << 30

// copyPartSize is the part size of a multipart copy.
const copyPartSize = 512 << 20

// Provider is a storage.Provider on one S3 bucket.
type Provider struct {
	bucket   string
	cfg      storage.Config
	clients  storage.Clients[*s3.Client]
	httpc    *awshttp.BuildableClient
	copyMax  int64 // maxCopySize, lowered by tests
	copyPart int64 // copyPartSize, lowered by tests
}

var _ storage.Provider = (*Provider)(nil)

// Open returns the Provider of loc's bucket. It checks the credential rules of the guide
// once (awsendpoint needs awsregion, both keys or none, insecure and http endpoints).
func Open(ctx context.Context, loc storage.Location, cfg storage.Config) (storage.Provider, error) {
	if err := storage.ValidateBucket(storage.SchemeS3, loc.Bucket); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	creds, err := cfg.Credentials.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve credentials: %w", err)
	}
	if _, err := creds.AWS(cfg.Insecure); err != nil {
		return nil, err
	}
	if cfg.PartSize < manager.MinUploadPartSize {
		return nil, fmt.Errorf("part size %d is below S3's minimum of %d bytes", cfg.PartSize, manager.MinUploadPartSize)
	}
	p := &Provider{bucket: loc.Bucket, cfg: cfg, copyMax: maxCopySize, copyPart: copyPartSize}
	// Many objects upload at once (the agent's concurrentConnections), each with
	// Concurrency parts in flight: keep enough idle connections that none is reopened.
	p.httpc = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 0
		t.MaxIdleConnsPerHost = 256
		cfg.Timeouts.Apply(t)
	})
	p.clients = storage.Clients[*s3.Client]{Source: cfg.Credentials, Build: p.build}
	return p, nil
}

// build makes an SDK client for resolved credentials.
func (p *Provider) build(creds storage.Credentials) (*s3.Client, error) {
	a, err := creds.AWS(p.cfg.Insecure)
	if err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{}
	if a.Region != "" {
		opts = append(opts, config.WithRegion(a.Region))
	}
	if p.cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(p.cfg.HTTPClient))
	} else {
		opts = append(opts, config.WithHTTPClient(p.httpc))
	}
	if !a.DefaultChain {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, "")))
	}
	// Loading with a background context: the default chain resolves lazily, per request.
	awsCfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if a.Endpoint != "" {
			o.BaseEndpoint = aws.String(a.Endpoint)
			o.UsePathStyle = true
		}
		o.EndpointOptions.DisableHTTPS = a.Insecure
		// No "Expect: 100-continue" round trip before each part body (rclone and the
		// zero http.Transport do not wait either); it halved upload throughput here.
		o.ContinueHeaderThresholdBytes = -1
		// Errors are returned, never logged: keep the SDK quiet about skipped checksums.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Logger = logging.Nop{} // nor about a body it could not drain after a reset
		o.APIOptions = append(o.APIOptions, unsignedPayload)
		o.Retryer = retryer(p.cfg.Retry)
		// Wrapped after loading, which may have given the client a CA bundle.
		o.HTTPClient = meteringClient{o.HTTPClient}
	}), nil
}

// retryer is the SDK's standard retryer with the budget of r: more attempts than the
// SDK's 3, Retry-After honoured, and no client-side retry quota, which at a steady rate
// of throttled requests runs dry and fails requests that would have succeeded on their
// next try ("retry quota exceeded").
func retryer(r storage.Retry) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = r.MaxAttempts
		o.MaxBackoff = r.MaxBackoff
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
			var h http.Header
			var re interface{ HTTPResponse() *smithyhttp.Response }
			if errors.As(err, &re) && re.HTTPResponse() != nil && re.HTTPResponse().Response != nil {
				h = re.HTTPResponse().Header
			}
			return r.Backoff(attempt, h), nil
		})
	})
}

// unsignedPayload signs requests with UNSIGNED-PAYLOAD over plain HTTP too, as the SDK
// does by itself over HTTPS. Without it, every part sent to an http:// endpoint is read
// once more to compute its SHA-256 for the signature, on the client and again on the
// server, for no integrity that the CRC32 checksum header (still sent, and checked by the
// server) and the object's own SHA-256 (verified on restore) do not already give. It was
// a third of the upload's CPU in bench/storage.
func unsignedPayload(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("UnsignedPayload",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(v4.SetPayloadHash(ctx, "UNSIGNED-PAYLOAD"), in)
		}), middleware.After)
}

// Bucket returns the bucket name.
func (p *Provider) Bucket() string { return p.bucket }

// BucketExists sends HeadBucket; a missing bucket is *types.NotFound.
func (p *Provider) BucketExists(ctx context.Context) (bool, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return false, err
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &p.bucket})
	var nf *types.NotFound
	if errors.As(err, &nf) || isCode(err, "NoSuchBucket") {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("head bucket %s: %w", p.bucket, mapErr(err))
	}
	return true, nil
}

// CreateBucket creates the bucket in the client's region.
func (p *Provider) CreateBucket(ctx context.Context) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: &p.bucket}
	if r := c.Options().Region; r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	_, err = c.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if errors.As(err, &owned) || errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", p.bucket, storage.ErrBucketExists)
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", p.bucket, err)
	}
	return nil
}

// Put uploads r, computing its SHA-256: a file of at most one part from memory after one
// read (putOnce), a file up to the upload cutoff as one streamed request (putSingle), and
// anything else with the upload manager, in parts.
func (p *Provider) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	md := opts.WithSHA256()
	in := &s3.PutObjectInput{Bucket: &p.bucket, Key: &key, Metadata: md}
	var digest interface {
		Sum() string
		N() int64
	}
	src, size, random := randomAccess(r)
	switch {
	case random && size <= p.cfg.PartSize:
		return p.putOnce(ctx, c, key, src, size, opts, md)
	case random && size <= p.cfg.UploadCutoff:
		return p.putSingle(ctx, c, key, src, size, opts, md)
	}
	if random {
		f := newHashedFile(ctx, src, size, opts.SHA256)
		// A file: the manager reads its parts in parallel without buffering them. Each
		// part is read for its CRC32 before it is read again to be sent, so the meter
		// sees the request bodies on their way out instead (meteringClient).
		defer f.stop()
		in.Body, digest = f, f
		if opts.Meter != nil {
			ctx = context.WithValue(ctx, meterKey{}, opts.Meter)
		}
	} else {
		hr := storage.NewSHA256Reader(storage.MeteredReader(ctx, r, opts.Meter), opts.SHA256)
		in.Body, digest = hr, hr
	}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	up := manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = p.cfg.PartSize
		u.Concurrency = p.cfg.Concurrency
		u.LeavePartsOnError = false
	})
	started := time.Now()
	out, err := up.Upload(ctx, in)
	p.abortStrays(ctx, c, key, started)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	return storage.ObjectInfo{Key: key, Size: digest.N(), ModTime: time.Now(), SHA256: digest.Sum(), ETag: aws.ToString(out.ETag), Metadata: md}, nil
}

// strayMargin is how long before a Put's start an incomplete upload of its key may have
// been initiated (by the server's clock) and still be the Put's own.
const strayMargin = time.Minute

// abortStrays aborts the incomplete multipart uploads of key initiated since started
// (less strayMargin). When the response to CreateMultipartUpload is lost (a connection
// reset after the server created the upload), the SDK sends it again: the first
// upload's id never reaches the manager, which can abort only the upload it knows, and
// the server keeps the parts it may hold until a lifecycle rule, if any, removes them. A
// listing of the key finds them without one. Best effort: an upload it cannot abort is
// left to the next Put of the key. Keys are written by one agent at a time, so the only
// uploads of the key in flight are this Put's.
func (p *Provider) abortStrays(ctx context.Context, c *s3.Client, key string, started time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &p.bucket, Prefix: &key})
	if err != nil {
		return
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) != key || u.Initiated == nil || u.Initiated.Before(started.Add(-strayMargin)) {
			continue
		}
		_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &p.bucket, Key: &key, UploadId: u.UploadId})
	}
}

// Get streams rng of key.
func (p *Provider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &p.bucket, Key: &key}
	if h := rangeHeader(rng); h != "" {
		in.Range = &h
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, mapErr(err))
	}
	// A stream broken mid-body (a reset connection, an idle timeout) resumes where it
	// stopped, from the same version of the object, as azblob's RetryReader does.
	reopen := func(ctx context.Context, read int64) (io.ReadCloser, error) {
		r := storage.Range{Offset: rng.Offset + read}
		if rng.Length > 0 {
			r.Length = rng.Length - read
		}
		h := rangeHeader(r)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &p.bucket, Key: &key, Range: &h, IfMatch: out.ETag})
		if err != nil {
			return nil, fmt.Errorf("resume get %s at byte %d: %w", key, r.Offset, mapErr(err))
		}
		return out.Body, nil
	}
	return &resumingReader{ctx: ctx, body: out.Body, reopen: reopen, retry: p.cfg.Retry}, nil
}

// resumingReader reopens a broken stream at the byte where it broke, up to
// Retry.MaxAttempts times in a row without progress.
type resumingReader struct {
	ctx    context.Context
	body   io.ReadCloser
	read   int64
	reopen func(ctx context.Context, read int64) (io.ReadCloser, error)
	retry  storage.Retry
}

func (r *resumingReader) Read(b []byte) (int, error) {
	for try := 1; ; try++ {
		n, err := r.body.Read(b)
		r.read += int64(n)
		if err == nil || err == io.EOF {
			return n, err
		}
		if n > 0 { // the next Read meets the error again, and resumes
			return n, nil
		}
		if r.ctx.Err() != nil || try >= r.retry.MaxAttempts {
			return 0, err
		}
		r.body.Close()
		select {
		case <-time.After(r.retry.Backoff(try, nil)):
		case <-r.ctx.Done():
			return 0, err
		}
		body, rerr := r.reopen(r.ctx, r.read)
		if rerr != nil {
			return 0, fmt.Errorf("%w (after %w)", rerr, err)
		}
		r.body = body
	}
}

func (r *resumingReader) Close() error { return r.body.Close() }

// rangeHeader formats an HTTP Range header; "" means the whole object.
func rangeHeader(r storage.Range) string {
	switch {
	case r.Offset == 0 && r.Length == 0:
		return ""
	case r.Length == 0:
		return fmt.Sprintf("bytes=%d-", r.Offset)
	}
	return fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1)
}

// Head sends HeadObject.
func (p *Provider) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &p.bucket, Key: &key})
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, mapErr(err))
	}
	md := storage.LowerKeys(out.Metadata)
	return storage.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified),
		SHA256: md[storage.MetaSHA256], ETag: aws.ToString(out.ETag), Metadata: md,
	}, nil
}

// List pages through ListObjectsV2.
func (p *Provider) List(ctx context.Context, prefix string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		c, err := p.clients.Get(ctx)
		if err != nil {
			yield(storage.ObjectInfo{}, err)
			return
		}
		in := &s3.ListObjectsV2Input{Bucket: &p.bucket, Prefix: &prefix}
		if p.cfg.ListPageSize > 0 {
			in.MaxKeys = aws.Int32(int32(p.cfg.ListPageSize))
		}
		pages := s3.NewListObjectsV2Paginator(c, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(storage.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, mapErr(err)))
				return
			}
			for _, o := range page.Contents {
				info := storage.ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// Delete sends DeleteObject; S3 does not report missing keys.
func (p *Provider) Delete(ctx context.Context, key string) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &p.bucket, Key: &key}); err != nil {
		if errors.Is(mapErr(err), storage.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, mapErr(err))
	}
	return nil
}

// Refresh copies key onto itself. The copy always carries a new refresh stamp in its
// metadata (with metadataDirective REPLACE on the wire), because S3 rejects a self-copy
// that changes nothing; COPY keeps the object's user metadata by re-sending it.
func (p *Provider) Refresh(ctx context.Context, key string, opts storage.RefreshOptions) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &p.bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("refresh %s: %w", key, mapErr(err))
	}
	md := storage.LowerKeys(head.Metadata)
	if opts.Directive == storage.MetadataReplace {
		md = opts.Metadata
	}
	md = storage.Stamp(md, time.Now())
	source := copySource(p.bucket, key)
	if aws.ToInt64(head.ContentLength) > p.copyMax {
		err = p.multipartCopy(ctx, c, key, source, aws.ToInt64(head.ContentLength), md, head)
	} else {
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &p.bucket, Key: &key, CopySource: &source,
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: md,
			ContentType: head.ContentType, ContentEncoding: head.ContentEncoding,
			CacheControl: head.CacheControl, ContentDisposition: head.ContentDisposition,
			StorageClass:      types.StorageClass(head.StorageClass),
			CopySourceIfMatch: head.ETag,
		})
	}
	if err != nil {
		return fmt.Errorf("refresh %s: %w", key, mapErr(err))
	}
	return nil
}

// multipartCopy refreshes an object larger than CopyObject allows, part by part.
func (p *Provider) multipartCopy(ctx context.Context, c *s3.Client, key, source string, size int64, md map[string]string, head *s3.HeadObjectOutput) error {
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &p.bucket, Key: &key, Metadata: md, ContentType: head.ContentType,
		ContentEncoding: head.ContentEncoding, CacheControl: head.CacheControl,
		ContentDisposition: head.ContentDisposition, StorageClass: types.StorageClass(head.StorageClass),
	})
	if err != nil {
		return err
	}
	abort := func(err error) error {
		// The abort runs even when ctx is done, so no parts are left behind.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, aerr := c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &p.bucket, Key: &key, UploadId: mp.UploadId}); aerr != nil {
			return fmt.Errorf("%w (and aborting the multipart copy failed: %w)", err, aerr)
		}
		return err
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+p.copyPart, n+1 {
		end := min(off+p.copyPart, size) - 1
		out, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &p.bucket, Key: &key, UploadId: mp.UploadId, PartNumber: aws.Int32(n),
			CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
			CopySourceIfMatch: head.ETag,
		})
		if err != nil {
			return abort(fmt.Errorf("copy part %d: %w", n, err))
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &p.bucket, Key: &key, UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(err)
	}
	return nil
}

// copySource is the URL-encoded bucket/key of a copy.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// Close does nothing: idle connections of the pooled client time out by themselves.
func (p *Provider) Close() error { return nil }

// mapErr maps S3's not-found errors to storage's sentinels, keeping the original.
func mapErr(err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	switch {
	case errors.As(err, &nsb) || isCode(err, "NoSuchBucket"):
		return fmt.Errorf("%w: %w", storage.ErrBucketNotFound, err)
	case errors.As(err, &nsk) || errors.As(err, &nf) || isCode(err, "NoSuchKey") || isCode(err, "NotFound"):
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case isCode(err, "InvalidAccessKeyId") || isCode(err, "SignatureDoesNotMatch") || isCode(err, "AccessDenied"):
		return fmt.Errorf("%w: %w", storage.ErrAccessDenied, err)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return storage.AccessDenied(err, re.HTTPStatusCode())
	}
	return err
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
