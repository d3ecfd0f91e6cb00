package layout

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// ManifestSummary is what the operator needs of a node's manifest: its header and totals.
// It is read by streaming, so a node's file count never decides the operator's memory.
type ManifestSummary struct {
	ManifestHeader
	// Files is the number of entries.
	Files int64
	// Bytes is the sum of the entries' sizes.
	Bytes int64
}

// ScanManifestAt streams the manifest at key through ScanManifest, calling fn (when not
// nil) with each entry: one entry in memory at a time, so no size bound has to be guessed.
// A manifest the scanner refuses is a *RefusedError; a broken download is not.
func (c Catalog) ScanManifestAt(ctx context.Context, key string, fn func(File) error) (ManifestHeader, error) {
	r, err := c.Storage.Get(ctx, key, storage.Range{})
	if err != nil {
		return ManifestHeader{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	rr := &readErr{r: r}
	var fnErr error
	h, err := ScanManifest(rr, func(f File) error {
		if fn == nil {
			return nil
		}
		fnErr = fn(f)
		return fnErr
	})
	switch {
	case rr.err != nil:
		return h, fmt.Errorf("read %s: %w", key, rr.err)
	case err != nil && fnErr != nil && errors.Is(err, fnErr):
		return h, fnErr
	case err != nil:
		return h, &RefusedError{Key: key, Err: err}
	}
	return h, nil
}

// SummarizeManifest streams the manifest at key and counts its entries and bytes.
func (c Catalog) SummarizeManifest(ctx context.Context, key string) (ManifestSummary, error) {
	var s ManifestSummary
	h, err := c.ScanManifestAt(ctx, key, func(f File) error {
		s.Files++
		s.Bytes += f.Size
		return nil
	})
	s.ManifestHeader = h
	return s, err
}

// readErr remembers a read error of the object, to tell a broken download (worth
// retrying) from a manifest the scanner refused.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
