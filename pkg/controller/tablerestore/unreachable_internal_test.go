package tablerestore

import (
	"testing"
	"time"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// The wait between two tries of an unreachable agent doubles from the poll interval up to
// its bound, and never passes the timeout.
func TestBackoff(t *testing.T) {
	poll := 2 * time.Second
	for _, tc := range []struct{ elapsed, left, want time.Duration }{
		{0, time.Minute, poll},
		{time.Second, time.Minute, poll},
		{4 * time.Second, time.Minute, 4 * time.Second},
		{16 * time.Second, time.Minute, 16 * time.Second},
		{2 * time.Minute, 3 * time.Minute, maxUnreachableBackoff},
		{4 * time.Minute, time.Second, time.Second},
		{5 * time.Minute, 0, time.Millisecond},
	} {
		if got := backoff(tc.elapsed, poll, tc.left); got != tc.want {
			t.Errorf("backoff(%s, left %s) = %s, want %s", tc.elapsed, tc.left, got, tc.want)
		}
	}
}

// spec.truncate is refused on cass-operator pods (the Management API has no table
// truncate) and accepted on Jolokia pods; without it both profiles restore.
func TestTruncatable(t *testing.T) {
	c := &Controller{cfg: Options{}.withDefaults()}
	for _, tc := range []struct {
		p        profile.Profile
		truncate bool
		refused  bool
	}{
		{profile.CassOperatorProfile, true, true},
		{profile.CassOperatorProfile, false, false},
		{profile.InstaclustrProfile, true, false},
	} {
		r := &v1alpha1.CassandraRestore{Spec: v1alpha1.CassandraRestoreSpec{Truncate: tc.truncate}}
		err := c.truncatable(r, tc.p)
		if refused := err != nil; refused != tc.refused {
			t.Errorf("%s, truncate %v: %v", tc.p.Name, tc.truncate, err)
		}
		if tc.refused && (r.Status.State != v1alpha1.TableRestoreFailed || r.Status.Conditions[0].Reason != ReasonTruncateUnsupported) {
			t.Errorf("%s: status %+v", tc.p.Name, r.Status)
		}
	}
}
