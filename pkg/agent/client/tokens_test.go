package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// A TokenFile is read per namespace ({namespace} in the path) at every request, so a
// rotated projected token is sent at once; a missing or empty file fails the request.
func TestTokenFileReadAtEveryRequest(t *testing.T) {
	dir := t.TempDir()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	write := func(ns, tok string) {
		if err := os.MkdirAll(filepath.Join(dir, ns), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ns, "token"), []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &Client{Tokens: TokenFile(filepath.Join(dir, "{namespace}", "token"))}
	write("a", "one")
	write("b", "bee")
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { _, err := c.For("a").List(ctx, srv.URL, ""); return err },
		func() error { write("a", "two"); _, err := c.For("a").List(ctx, srv.URL, ""); return err },
		func() error { _, err := c.For("b").List(ctx, srv.URL, ""); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"Bearer one", "Bearer two", "Bearer bee"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("sent %q, want %q", got, want)
	}
	if _, err := c.For("missing").List(ctx, srv.URL, ""); err == nil || len(got) != 3 {
		t.Errorf("no token file: %v, %d requests sent", err, len(got))
	}
	write("empty", "")
	if _, err := c.For("empty").List(ctx, srv.URL, ""); err == nil || len(got) != 3 {
		t.Errorf("an empty token file: %v, %d requests sent", err, len(got))
	}
}
