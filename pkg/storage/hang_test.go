package storage_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// hungServer listens on 127.0.0.1 and, for each request, calls answer with the
// connection (after reading the request's headers). Everything it holds is released when
// the test ends.
func hungServer(t *testing.T, answer func(net.Conn, *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				answer(c, req)
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// silent accepts, reads the request and never answers.
func silent(net.Conn, *http.Request) {}

// stallBody sends the headers of a 1 MiB object (or of the range asked for) and, the
// first time only, 16 bytes of it, then stalls. (Readers that resume a broken download
// start their count of tries afresh after progress: a server that sent some bytes on
// every reconnection would be slow, not hung.)
func stallBody() func(net.Conn, *http.Request) {
	var once sync.Once
	return func(c net.Conn, req *http.Request) { stall(c, req, &once) }
}

func stall(c net.Conn, req *http.Request, once *sync.Once) {
	const size = 1 << 20
	status, first, length := "200 OK", int64(0), int64(size)
	if _, err := fmt.Sscanf(req.Header.Get("Range"), "bytes=%d-", &first); err == nil && first < size {
		status, length = "206 Partial Content", size-first
	}
	fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n", status, length)
	if status != "200 OK" {
		fmt.Fprintf(c, "Content-Range: bytes %d-%d/%d\r\n", first, size-1, size)
	}
	fmt.Fprintf(c, "ETag: \"0123456789abcdef\"\r\nLast-Modified: Mon, 30 Nov 2026 12:00:00 GMT\r\n"+
		"Accept-Ranges: bytes\r\nx-goog-generation: 1\r\nx-goog-metageneration: 1\r\n\r\n")
	once.Do(func() { c.Write(make([]byte, 16)) })
}

// hangTimeouts are short timeouts with two tries per request, so a hang shows quickly.
var (
	hangTimeouts = storage.Timeouts{Dial: time.Second, TLSHandshake: time.Second, ResponseHeader: 300 * time.Millisecond, Idle: 300 * time.Millisecond}
	hangRetry    = storage.Retry{MaxAttempts: 2, MaxBackoff: 50 * time.Millisecond}
)

// hangBound is how long a call against a hung server may take with hangTimeouts: a few
// tries of 300 ms each, far from the minute a test would wait without timeouts.
const hangBound = 10 * time.Second

// hangTargets opens, for each provider that speaks HTTP, a provider whose endpoint is addr.
func hangTargets(t *testing.T, addr string) map[string]storage.Provider {
	t.Helper()
	cfg := storage.Config{Insecure: true, Timeouts: hangTimeouts, Retry: hangRetry}
	out := map[string]storage.Provider{}
	for _, c := range []struct {
		loc    string
		secret map[string][]byte
		set    func(*storage.Config)
	}{
		{"s3://hung", map[string][]byte{"awsaccesskeyid": []byte("AK"), "awssecretaccesskey": []byte("SK"),
			"awsregion": []byte("us-east-1"), "awsendpoint": []byte("http://" + addr)}, func(*storage.Config) {}},
		{"azure://hung", map[string][]byte{"azurestorageaccount": []byte("acct"), "azurestoragekey": []byte(azureKey)},
			func(c *storage.Config) { c.AzureEndpoint = "http://" + addr + "/{account}" }},
		{"gcp://hung", map[string][]byte{}, func(c *storage.Config) { c.GCSEndpoint = "http://" + addr + "/storage/v1/" }},
	} {
		cfg := cfg
		c.set(&cfg)
		cfg.Credentials = storage.StaticCredentials(c.secret)
		p, loc, err := storage.OpenLocation(t.Context(), c.loc, cfg)
		if err != nil {
			t.Fatalf("open %s: %v", c.loc, err)
		}
		t.Cleanup(func() { p.Close() })
		out[loc.Scheme] = p
	}
	return out
}

// TestHungEndpoint: a server that accepts connections and never answers, or sends a
// response's headers and then stalls its body, makes each call fail within a bound, with
// an error that says it timed out, instead of hanging.
func TestHungEndpoint(t *testing.T) {
	calls := []struct {
		name   string
		answer func(net.Conn, *http.Request)
		call   func(ctx context.Context, p storage.Provider) error
	}{
		{"no answer/bucket exists", silent, func(ctx context.Context, p storage.Provider) error {
			_, err := p.BucketExists(ctx)
			return err
		}},
		{"no answer/head", silent, func(ctx context.Context, p storage.Provider) error {
			_, err := p.Head(ctx, "a/b")
			return err
		}},
		{"no answer/get", silent, func(ctx context.Context, p storage.Provider) error {
			r, err := p.Get(ctx, "a/b", storage.Range{})
			if err == nil {
				_, err = io.Copy(io.Discard, r)
				r.Close()
			}
			return err
		}},
		{"stalled body/get", nil, func(ctx context.Context, p storage.Provider) error {
			r, err := p.Get(ctx, "a/b", storage.Range{})
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := io.Copy(io.Discard, r)
			if err == nil && n < 1<<20 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			answer := c.answer
			if answer == nil {
				answer = stallBody()
			}
			addr := hungServer(t, answer)
			for scheme, p := range hangTargets(t, addr) {
				t.Run(scheme, func(t *testing.T) {
					t.Parallel()
					// The test's own watchdog: far beyond the bound, so that without
					// timeouts the call fails here instead of hanging the test binary.
					ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
					defer cancel()
					start := time.Now()
					err := c.call(ctx, p)
					took := time.Since(start)
					if err == nil {
						t.Fatalf("succeeded against a hung server")
					}
					if ctx.Err() != nil {
						t.Fatalf("still waiting after %v, when the watchdog ended it: %v", took, err)
					}
					if took > hangBound {
						t.Errorf("failed after %v, bound %v: %v", took, hangBound, err)
					}
					if !isTimeout(err) {
						t.Errorf("error does not say it timed out: %v", err)
					}
					t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
				})
			}
		})
	}
}

// isTimeout reports whether err is, or says it is, a timeout.
func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	s := strings.ToLower(err.Error())
	for _, w := range []string{"timeout", "deadline exceeded", "i/o timeout"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
