package agent

import (
	"sync/atomic"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// A reused object is refreshed (re-touched in place: a server-side copy) only to keep a
// bucket's lifecycle rules from expiring it while backups still reference it. Retention
// is the operator's (schedules, pkg/gc), so a location without lifecycle rules needs no
// refresh at all, and one whose rules expire objects after LifecycleExpiry needs an
// object refreshed only when it was last written or refreshed more than half of that ago.
// When that was is recorded in the manifest (layout.Entry.Refreshed) and read back from
// the node's newest manifest by the same join that finds reused objects: no request per
// object, and no trust in the objects' modification times.

// refreshPolicy decides which reused objects one backup refreshes, and stamps the entries.
type refreshPolicy struct {
	// opts is how to refresh; nil never refreshes (skipRefreshing).
	opts *storage.RefreshOptions
	// expiry is the location's lifecycle expiry; 0 means none: never refresh.
	expiry time.Duration
	// now is the backup's start, recorded as the refresh time of what it writes.
	now time.Time
	// refreshed counts the objects refreshed.
	refreshed atomic.Int64
}

// newRefreshPolicy returns the policy of req, starting at now.
func newRefreshPolicy(req api.Request, now time.Time) (*refreshPolicy, error) {
	p := &refreshPolicy{expiry: req.LifecycleExpiry, now: now}
	if req.SkipRefreshing || req.LifecycleExpiry <= 0 {
		return p, nil
	}
	dir, err := storage.ParseMetadataDirective(req.MetadataDirective)
	if err != nil {
		return nil, err
	}
	p.opts = &storage.RefreshOptions{Directive: dir}
	return p, nil
}

// due reports whether an object last written or refreshed at refreshed (milliseconds
// since the epoch; 0 when unknown) must be refreshed now.
func (p *refreshPolicy) due(refreshed int64) bool {
	if p.opts == nil {
		return false
	}
	return refreshed <= 0 || p.now.Sub(time.UnixMilli(refreshed)) >= p.expiry/2
}

// stamp is the refresh time recorded for an object this backup writes or refreshes.
func (p *refreshPolicy) stamp() int64 { return p.now.UnixMilli() }
