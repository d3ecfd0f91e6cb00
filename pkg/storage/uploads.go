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

// AbortUploads aborts p's incomplete uploads under prefix initiated before before, when
// its backend keeps them (UploadSweeper); other backends have none to abort.
func AbortUploads(ctx context.Context, p Provider, prefix string, before time.Time) (int, error) {
	if c, ok := p.(checked); ok {
		p = c.Provider
	}
	if s, ok := p.(UploadSweeper); ok {
		if err := ValidateKey(prefix + "x"); err != nil {
			return 0, err
		}
		return s.AbortUploads(ctx, prefix, before)
	}
	return 0, nil
}
