package api

import (
	"net/http"
	"testing"
	"time"
)

func TestHeadersRoundTrip(t *testing.T) {
	in := Request{BackupUID: "0f1e-2d3c", LifecycleExpiry: 720 * time.Hour}
	var out Request
	if err := out.ReadHeaders(in.Headers()); err != nil || out.BackupUID != in.BackupUID || out.LifecycleExpiry != in.LifecycleExpiry {
		t.Fatalf("round trip of %+v = %+v, %v", in, out, err)
	}
	if h := (Request{}).Headers(); h != nil {
		t.Errorf("headers of an empty request = %v, want none", h)
	}
	if err := out.ReadHeaders(http.Header{}); err != nil || out.BackupUID != "" || out.LifecycleExpiry != 0 {
		t.Errorf("no headers read as %+v, %v", out, err)
	}
	for _, bad := range []string{"30d", "-1h", "0s", "1000000h", "h"} {
		h := http.Header{}
		h.Set(HeaderLifecycleExpiry, bad)
		if err := out.ReadHeaders(h); err == nil {
			t.Errorf("%s %q accepted as %v", HeaderLifecycleExpiry, bad, out.LifecycleExpiry)
		}
	}
}
