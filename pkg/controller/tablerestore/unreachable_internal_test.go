package tablerestore

import (
	"testing"
	"time"
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
