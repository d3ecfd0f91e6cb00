// Package azure is the storage.Provider for azure:// locations: the bucket is a blob
// container of the Secret's storage account. Uploads are block blobs staged in parallel
// and committed at the end.
package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

func init() { storage.Register(storage.SchemeAzure, Open) }

// DefaultEndpoint is the public cloud's blob service URL template.
const DefaultEndpoint = "{account}.blob.core.windows.net"

// Provider is a storage.Provider on one blob container.
type Provider struct {
	bucket  string
	cfg     storage.Config
	clients storage.Clients[*container.Client]
}

var _ storage.Provider = (*Provider)(nil)

// Open returns the Provider of loc's container. It checks once that the Secret has the
// account and key and that the endpoint is usable.
func Open(ctx context.Context, loc storage.Location, cfg storage.Config) (storage.Provider, error) {
	if err := storage.ValidateBucket(storage.SchemeAzure, loc.Bucket); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	creds, err := cfg.Credentials.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve credentials: %w", err)
	}
	a, err := creds.Azure()
	if err != nil {
		return nil, err
	}
	if _, err := serviceURL(cfg, a.Account); err != nil {
		return nil, err
	}
	p := &Provider{bucket: loc.Bucket, cfg: cfg}
	p.clients = storage.Clients[*container.Client]{Source: cfg.Credentials, Build: p.build}
	return p, nil
}

// serviceURL applies the endpoint override (or the default) for account.
func serviceURL(cfg storage.Config, account string) (string, error) {
	ep := cfg.AzureEndpoint
	if ep == "" {
		ep = DefaultEndpoint
	}
	if !strings.Contains(ep, "{account}") {
		return "", fmt.Errorf("azure endpoint %q has no {account} placeholder", cfg.AzureEndpoint)
	}
	return storage.EndpointURL("azure endpoint", strings.ReplaceAll(ep, "{account}", account), cfg.Insecure)
}

func (p *Provider) build(creds storage.Credentials) (*container.Client, error) {
	a, err := creds.Azure()
	if err != nil {
		return nil, err
	}
	u, err := serviceURL(p.cfg, a.Account)
	if err != nil {
		return nil, err
	}
	httpc := p.cfg.HTTPClient
	if httpc == nil {
		httpc = storage.HTTPClient(p.cfg.Timeouts)
	}
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: httpc,
		// Insecure (HTTP) endpoints are allowed only when the request says insecure.
		InsecureAllowCredentialWithHTTP: p.cfg.Insecure,
		Logging:                         policy.LogOptions{},
		// azcore honours Retry-After and x-ms-retry-after-ms by itself.
		Retry: policy.RetryOptions{
			MaxRetries:    int32(p.cfg.Retry.MaxAttempts - 1),
			RetryDelay:    p.cfg.Retry.FirstBackoff(),
			MaxRetryDelay: p.cfg.Retry.MaxBackoff,
		},
	}}
	svc, err := newClient(a, u, opts)
	if err != nil {
		return nil, err
	}
	return svc.ServiceClient().NewContainerClient(p.bucket), nil
}

// Bucket returns the container name.
func (p *Provider) Bucket() string { return p.bucket }

// BucketExists reads the container's properties.
func (p *Provider) BucketExists(ctx context.Context) (bool, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return false, err
	}
	_, err = c.GetProperties(ctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("container %s properties: %w", p.bucket, mapErr(err))
	}
	return true, nil
}

// CreateBucket creates the container (private access).
func (p *Provider) CreateBucket(ctx context.Context) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	_, err = c.Create(ctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerAlreadyExists, bloberror.ContainerBeingDeleted) {
		return fmt.Errorf("create container %s: %w", p.bucket, storage.ErrBucketExists)
	}
	if err != nil {
		return fmt.Errorf("create container %s: %w", p.bucket, err)
	}
	return nil
}

func ptrs(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = &v
	}
	return out
}

func values(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[strings.ToLower(k)] = *v
		}
	}
	return out
}

// Put stages blocks concurrently and commits the block list at the end of r.
func (p *Provider) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	hr := storage.NewSHA256Reader(storage.MeteredReader(ctx, r, opts.Meter), opts.SHA256)
	md := opts.WithSHA256()
	o := &blockblob.UploadStreamOptions{BlockSize: p.cfg.PartSize, Concurrency: p.cfg.Concurrency, Metadata: ptrs(md)}
	if opts.ContentType != "" {
		o.HTTPHeaders = &blob.HTTPHeaders{BlobContentType: &opts.ContentType}
	}
	resp, err := c.NewBlockBlobClient(key).UploadStream(ctx, hr, o)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	info := storage.ObjectInfo{Key: key, Size: hr.N(), SHA256: hr.Sum(), Metadata: md, ModTime: time.Now()}
	if resp.LastModified != nil {
		info.ModTime = *resp.LastModified
	}
	if resp.ETag != nil {
		info.ETag = string(*resp.ETag)
	}
	return info, nil
}

// Get downloads rng of key, resuming the stream on transient failures.
func (p *Provider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.NewBlobClient(key).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: rng.Offset, Count: rng.Length}})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, mapErr(err))
	}
	return resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: int32(p.cfg.Retry.MaxAttempts - 1)}), nil
}

// Head reads the blob's properties.
func (p *Provider) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	props, err := c.NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, mapErr(err))
	}
	md := values(props.Metadata)
	info := storage.ObjectInfo{Key: key, SHA256: md[storage.MetaSHA256], Metadata: md}
	if props.ContentLength != nil {
		info.Size = *props.ContentLength
	}
	if props.LastModified != nil {
		info.ModTime = *props.LastModified
	}
	if props.ETag != nil {
		info.ETag = string(*props.ETag)
	}
	return info, nil
}

// List pages through the container's flat listing.
func (p *Provider) List(ctx context.Context, prefix string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		c, err := p.clients.Get(ctx)
		if err != nil {
			yield(storage.ObjectInfo{}, err)
			return
		}
		o := &container.ListBlobsFlatOptions{Prefix: &prefix}
		if p.cfg.ListPageSize > 0 {
			n := int32(p.cfg.ListPageSize)
			o.MaxResults = &n
		}
		pager := c.NewListBlobsFlatPager(o)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				yield(storage.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, mapErr(err)))
				return
			}
			for _, b := range page.Segment.BlobItems {
				info := storage.ObjectInfo{Key: *b.Name}
				if pr := b.Properties; pr != nil {
					if pr.ContentLength != nil {
						info.Size = *pr.ContentLength
					}
					if pr.LastModified != nil {
						info.ModTime = *pr.LastModified
					}
					if pr.ETag != nil {
						info.ETag = string(*pr.ETag)
					}
				}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// Delete deletes the blob with its snapshots; a missing blob is not an error.
func (p *Provider) Delete(ctx context.Context, key string) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	include := blob.DeleteSnapshotsOptionTypeInclude
	_, err = c.NewBlobClient(key).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: &include})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return fmt.Errorf("delete %s: %w", key, mapErr(err))
	}
	return nil
}

// Refresh rewrites the blob's metadata with a refresh stamp, which moves its
// Last-Modified time, the clock of Azure's lifecycle rules.
func (p *Provider) Refresh(ctx context.Context, key string, opts storage.RefreshOptions) error {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return err
	}
	bc := c.NewBlobClient(key)
	props, err := bc.GetProperties(ctx, nil)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", key, mapErr(err))
	}
	md := values(props.Metadata)
	if opts.Directive == storage.MetadataReplace {
		md = opts.Metadata
	}
	md = storage.Stamp(md, time.Now())
	_, err = bc.SetMetadata(ctx, ptrs(md), &blob.SetMetadataOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: props.ETag},
	}})
	if err != nil {
		return fmt.Errorf("refresh %s: %w", key, mapErr(err))
	}
	return nil
}

// Close does nothing: idle connections of the pooled client time out by themselves.
func (p *Provider) Close() error { return nil }

// mapErr maps Azure's not-found errors to storage's sentinels, keeping the original.
func mapErr(err error) error {
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return fmt.Errorf("%w: %w", storage.ErrBucketNotFound, err)
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 && re.ErrorCode == "" {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	if re != nil {
		return storage.AccessDenied(err, re.StatusCode)
	}
	return err
}
