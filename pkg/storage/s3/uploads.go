package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

var _ storage.UploadSweeper = (*Provider)(nil)

// AbortUploads aborts the incomplete multipart uploads under prefix initiated before
// before, page by page.
func (p *Provider) AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error) {
	c, err := p.clients.Get(ctx)
	if err != nil {
		return 0, err
	}
	aborted := 0
	in := &s3.ListMultipartUploadsInput{Bucket: &p.bucket, Prefix: &prefix}
	for {
		out, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			return aborted, fmt.Errorf("list multipart uploads under %s: %w", prefix, mapErr(err))
		}
		for _, u := range out.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(before) {
				continue
			}
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &p.bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
				return aborted, fmt.Errorf("abort multipart upload of %s: %w", *u.Key, mapErr(err))
			}
			aborted++
		}
		if out.IsTruncated == nil || !*out.IsTruncated {
			return aborted, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
