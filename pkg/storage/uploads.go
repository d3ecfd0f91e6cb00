package storage

import (
	"context"
	"time"
)

// UploadSweeper is implemented by a Provider whose backend keeps the parts of incomplete
// uploads (S3's multipart uploads) until they are aborted. Azure's uncommitted blocks and
// GCS's resumable sessions expire on their own, and file:// writes to temporary files it
// removes itself, so they do not implement it.
type UploadSweeper interface {
	// AbortUploads aborts the incomplete uploads of keys under prefix initiated before
	// before, and returns how many it aborted.
	AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error)
}
