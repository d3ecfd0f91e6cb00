package api

import (
	"fmt"
	"net/http"
	"time"
)

// HeaderLifecycleExpiry carries Request.LifecycleExpiry as a Go duration ("720h"). Like
// HeaderBackupUID it is a header, not a body field, for the skew window: an agent of the
// previous minor version refuses unknown body fields but ignores the header, and then
// refreshes every reused object unless skipRefreshing is set, which is safe (only slower).
const HeaderLifecycleExpiry = "Cassandra-Backup-Lifecycle-Expiry"

// MaxLifecycleExpiry bounds HeaderLifecycleExpiry (a hundred years).
const MaxLifecycleExpiry = 100 * 365 * 24 * time.Hour

// Headers returns the request fields that travel as headers (BackupUID, LifecycleExpiry);
// nil when there are none.
func (r Request) Headers() http.Header {
	var h http.Header
	set := func(k, v string) {
		if h == nil {
			h = http.Header{}
		}
		h.Set(k, v)
	}
	if r.BackupUID != "" {
		set(HeaderBackupUID, r.BackupUID)
	}
	if r.LifecycleExpiry > 0 {
		set(HeaderLifecycleExpiry, r.LifecycleExpiry.String())
	}
	return h
}

// ReadHeaders sets the request fields that travel as headers from h, checked; the error
// names the offending header.
func (r *Request) ReadHeaders(h http.Header) error {
	r.BackupUID = h.Get(HeaderBackupUID)
	if err := ValidateBackupUID(r.BackupUID); err != nil {
		return err
	}
	r.LifecycleExpiry = 0
	if v := h.Get(HeaderLifecycleExpiry); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxLifecycleExpiry {
			return fmt.Errorf("header %s: %q is not a positive duration of at most %s", HeaderLifecycleExpiry, v, MaxLifecycleExpiry)
		}
		r.LifecycleExpiry = d
	}
	return nil
}
