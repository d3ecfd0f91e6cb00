// Package gcs is the storage.Provider for gcp:// locations: Google Cloud Storage through
// cloud.google.com/go/storage, authenticated with the Secret's service-account JSON or,
// without one, Application Default Credentials (GKE Workload Identity).
// Uploads are resumable uploads sent chunk by chunk.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/auth/credentials"
	gcs "cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

func init() { storage.Register(storage.SchemeGCP, Open) }

// Provider is a storage.Provider on one GCS bucket.
type Provider struct {
	bucket  string
	cfg     storage.Config
	clients storage.Clients[*client]
}

// client is an SDK client and the project its credentials belong to.
type client struct {
	*gcs.Client
	// project returns the project buckets are created in.
	project func(context.Context) (string, error)
}

var _ storage.Provider = (*Provider)(nil)

// Open returns the Provider of loc's bucket. It checks once that the Secret's gcp key,
// when set, is a service-account JSON.
func Open(ctx context.Context, loc storage.Location, cfg storage.Config) (storage.Provider, error) {
	if err := storage.ValidateBucket(storage.SchemeGCP, loc.Bucket); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if cfg.GCSEndpoint != "" {
		if _, err := storage.EndpointURL("gcs endpoint", cfg.GCSEndpoint, strings.HasPrefix(cfg.GCSEndpoint, "http://")); err != nil {
			return nil, err
		}
	}
	creds, err := cfg.Credentials.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve credentials: %w", err)
	}
	if _, err := creds.GCP(cfg.GCSEndpoint); err != nil {
		return nil, err
	}
	p := &Provider{bucket: loc.Bucket, cfg: cfg}
	p.clients = storage.Clients[*client]{Source: cfg.Credentials, Build: p.build}
	return p, nil
}

func (p *Provider) build(creds storage.Credentials) (*client, error) {
	g, err := creds.GCP(p.cfg.GCSEndpoint)
	if err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	if p.cfg.GCSEndpoint != "" {
		opts = append(opts, option.WithEndpoint(p.cfg.GCSEndpoint))
	}
	httpc := p.cfg.HTTPClient
	if httpc == nil {
		httpc = storage.HTTPClient(p.cfg.Timeouts)
	}
	project := func(context.Context) (string, error) { return g.ProjectID, nil }
	switch {
	case g.Anonymous:
		opts = append(opts, option.WithoutAuthentication(), option.WithHTTPClient(httpc))
		project = func(context.Context) (string, error) { return "emulator", nil }
	default:
		// Authenticated requests go over the same transport, with its timeouts.
		base := httpc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		auth := option.WithAuthCredentialsJSON(option.ServiceAccount, g.JSON)
		if g.ADC {
			// GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, else the metadata server
			// (GKE Workload Identity; GCE_METADATA_HOST moves it).
			creds, err := credentials.DetectDefault(&credentials.DetectOptions{
				Scopes: []string{gcs.ScopeFullControl}, Client: httpc})
			if err != nil {
				return nil, fmt.Errorf("gcs: the secret has no %s key and no Application Default Credentials were found (Workload Identity, GOOGLE_APPLICATION_CREDENTIALS): %w", storage.KeyGCP, err)
			}
			auth, project = option.WithAuthCredentials(creds), creds.ProjectID
		}
		rt, err := htransport.NewTransport(context.Background(), base, auth, option.WithScopes(gcs.ScopeFullControl))
		if err != nil {
			return nil, fmt.Errorf("gcs credentials: %w", err)
		}
		opts = append(opts, option.WithHTTPClient(&http.Client{Transport: rt}))
	}
	// The client connects lazily; its context only bounds construction.
	c, err := gcs.NewClient(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	// Every request is retried, writes included: objects are written whole, under keys
	// whose content does not change, so a repeated write is harmless.
	c.SetRetry(gcs.WithPolicy(gcs.RetryAlways), gcs.WithMaxAttempts(p.cfg.Retry.MaxAttempts),
		gcs.WithBackoff(gax.Backoff{Initial: p.cfg.Retry.FirstBackoff(), Max: p.cfg.Retry.MaxBackoff, Multiplier: 2}))
	return &client{Client: c, project: project}, nil
}

// Bucket returns the bucket name.
func (p *Provider) Bucket() string { return p.bucket }

// BucketExists reads the bucket's attributes.
func (p *Provider) BucketExists(ctx context.Context) (bool, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return false, err
	}
	_, err = c.Bucket(p.bucket).Attrs(ctx)
	if errors.Is(err, gcs.ErrBucketNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bucket %s attributes: %w", p.bucket, mapErr(err))
	}
	return true, nil
}

// CreateBucket creates the bucket in the service account's project.
func (p *Provider) CreateBucket(ctx context.Context) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	project, err := c.project(ctx)
	if err != nil || project == "" {
		return fmt.Errorf("create bucket %s: the credentials name no project to create it in: %v", p.bucket, err)
	}
	err = c.Bucket(p.bucket).Create(ctx, project, nil)
	if isStatus(err, http.StatusConflict) {
		return fmt.Errorf("create bucket %s: %w", p.bucket, storage.ErrBucketExists)
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", p.bucket, err)
	}
	return nil
}

// Put streams r into a resumable upload, one chunk of Config.PartSize at a time; the
// object is finalized only when r ends without error. The SDK retries each chunk, but
// not the reading of the response that finalizes the object: when r can seek (a file),
// an upload that failed transiently is sent again whole, up to Retry.MaxAttempts times.
func (p *Provider) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	s, ok := r.(io.Seeker)
	var start int64
	if ok {
		var err error
		if start, err = s.Seek(0, io.SeekCurrent); err != nil {
			ok = false
		}
	}
	for try := 1; ; try++ {
		info, err := p.put(ctx, key, r, opts)
		if err == nil || !ok || try >= p.cfg.Retry.MaxAttempts || ctx.Err() != nil || !transient(err) {
			return info, err
		}
		select {
		case <-time.After(p.cfg.Retry.Backoff(try, nil)):
		case <-ctx.Done():
			return info, err
		}
		if _, serr := s.Seek(start, io.SeekStart); serr != nil {
			return info, err
		}
	}
}

// transient reports whether err, or an error it wraps, is one the SDK would retry.
func transient(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if gcs.ShouldRetry(e) {
			return true
		}
	}
	return false
}

// put is one try of Put.
func (p *Provider) put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	// Cancelling the writer's context is how an upload is abandoned without finalizing.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hr := storage.NewSHA256Reader(storage.MeteredReader(ctx, r, opts.Meter), opts.SHA256)
	md := opts.WithSHA256()
	w := c.Bucket(p.bucket).Object(key).NewWriter(wctx)
	w.ChunkSize = int(p.cfg.PartSize)
	w.Metadata = md
	w.ContentType = opts.ContentType
	if w.ContentType == "" {
		w.ContentType = "application/octet-stream"
	}
	if _, err := io.Copy(w, hr); err != nil {
		cancel()
		_ = w.Close() // reports the cancellation; the copy error is the cause
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	if err := w.Close(); err != nil {
		if isStatus(err, http.StatusNotFound) { // creating an object: only the bucket can be missing
			return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: %w", key, storage.ErrBucketNotFound, err)
		}
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	a := w.Attrs()
	return storage.ObjectInfo{Key: key, Size: hr.N(), SHA256: hr.Sum(), Metadata: md, ModTime: a.Updated, ETag: a.Etag}, nil
}

// Get reads rng of key.
func (p *Provider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return nil, err
	}
	length := rng.Length
	if length == 0 {
		length = -1
	}
	rctx, cancel := context.WithCancelCause(ctx)
	rd, err := c.Bucket(p.bucket).Object(key).NewRangeReader(rctx, rng.Offset, length)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("get %s: %w", key, mapErr(err))
	}
	t := p.cfg.Timeouts
	return &progressReader{r: rd, key: key, cancel: cancel, ctx: rctx,
		bound: time.Duration(p.cfg.Retry.MaxAttempts) * (t.ResponseHeader + t.Idle)}, nil
}

// progressReader bounds each Read of a GCS object. The SDK's reader reopens a broken
// stream from where it stopped after any error, with no limit on how often, so a server
// that answers every reopening and then stalls the body would hold a reader forever; a
// Read that returns nothing for the time of MaxAttempts tries ends the reader's context.
type progressReader struct {
	r      *gcs.Reader
	key    string
	ctx    context.Context
	cancel context.CancelCauseFunc
	bound  time.Duration
}

var errNoProgress = errors.New("no progress")

func (r *progressReader) Read(b []byte) (int, error) {
	t := time.AfterFunc(r.bound, func() { r.cancel(errNoProgress) })
	n, err := r.r.Read(b)
	t.Stop()
	if err != nil && errors.Is(context.Cause(r.ctx), errNoProgress) {
		err = fmt.Errorf("read %s: no data for %s: %w", r.key, r.bound, context.DeadlineExceeded)
	}
	return n, err
}

func (r *progressReader) Close() error {
	err := r.r.Close()
	r.cancel(nil)
	return err
}

// Head reads the object's attributes.
func (p *Provider) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	a, err := c.Bucket(p.bucket).Object(key).Attrs(ctx)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, mapErr(err))
	}
	md := storage.LowerKeys(a.Metadata)
	return storage.ObjectInfo{Key: key, Size: a.Size, ModTime: a.Updated, SHA256: md[storage.MetaSHA256], ETag: a.Etag, Metadata: md}, nil
}

// List pages through the bucket's objects under prefix.
func (p *Provider) List(ctx context.Context, prefix string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		c, err := p.clients.Get(ctx)
		if err != nil {
			yield(storage.ObjectInfo{}, err)
			return
		}
		q := &gcs.Query{Prefix: prefix}
		if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "Etag"}); err != nil {
			yield(storage.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		it := c.Bucket(p.bucket).Objects(ctx, q)
		if p.cfg.ListPageSize > 0 {
			it.PageInfo().MaxSize = p.cfg.ListPageSize
		}
		for {
			a, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return
			}
			if err != nil {
				yield(storage.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, mapErr(err)))
				return
			}
			if !yield(storage.ObjectInfo{Key: a.Name, Size: a.Size, ModTime: a.Updated, ETag: a.Etag}, nil) {
				return
			}
		}
	}
}

// Delete deletes the object; a missing object is not an error.
func (p *Provider) Delete(ctx context.Context, key string) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	err = c.Bucket(p.bucket).Object(key).Delete(ctx)
	if err != nil && !errors.Is(err, gcs.ErrObjectNotExist) {
		return fmt.Errorf("delete %s: %w", key, mapErr(err))
	}
	return nil
}

// Refresh rewrites the object onto itself with a refresh stamp: the new generation gets
// a new creation time, the clock of GCS's age-based lifecycle rules.
func (p *Provider) Refresh(ctx context.Context, key string, opts storage.RefreshOptions) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	obj := c.Bucket(p.bucket).Object(key)
	a, err := obj.Attrs(ctx)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", key, mapErr(err))
	}
	md := storage.LowerKeys(a.Metadata)
	if opts.Directive == storage.MetadataReplace {
		md = opts.Metadata
	}
	cp := obj.If(gcs.Conditions{GenerationMatch: a.Generation}).CopierFrom(obj.Generation(a.Generation))
	cp.Metadata = storage.Stamp(md, time.Now())
	cp.ContentType = a.ContentType
	cp.ContentEncoding = a.ContentEncoding
	cp.CacheControl = a.CacheControl
	if _, err := cp.Run(ctx); err != nil {
		return fmt.Errorf("refresh %s: %w", key, mapErr(err))
	}
	return nil
}

// Close closes the current client, if one was built.
func (p *Provider) Close() error {
	if c, ok := p.clients.Current(); ok {
		return c.Close()
	}
	return nil
}

// mapErr maps GCS's not-found errors to storage's sentinels, keeping the original.
func mapErr(err error) error {
	switch {
	case errors.Is(err, gcs.ErrBucketNotExist):
		return fmt.Errorf("%w: %w", storage.ErrBucketNotFound, err)
	case errors.Is(err, gcs.ErrObjectNotExist):
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		if strings.Contains(strings.ToLower(ge.Message), "bucket") {
			return fmt.Errorf("%w: %w", storage.ErrBucketNotFound, err)
		}
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	if ge != nil {
		return storage.AccessDenied(err, ge.Code)
	}
	return err
}

func isStatus(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}
