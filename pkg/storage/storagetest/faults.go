package storagetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// Faults is what a FaultProxy does to the requests it forwards, each a fraction of the
// requests, drawn from a generator seeded with Seed (so a run's sequence of faults is
// reproducible, up to the order in which concurrent requests arrive).
type Faults struct {
	// Seed seeds the fault generator.
	Seed uint64
	// SlowDown answers 503 SlowDown (S3's XML error; azcore and GCS retry on the status).
	SlowDown float64
	// TooMany answers 429 with Retry-After: 1.
	TooMany float64
	// Reset resets the connection mid-body: halfway through the request's body when it
	// has one (nothing reaches the server), else halfway through the response's body,
	// after the server has done the request.
	Reset float64
	// Slow delays the response by up to MaxDelay.
	Slow float64
	// MaxDelay bounds a delay; 200ms when zero.
	MaxDelay time.Duration
	// MaxRequests bounds the requests the proxy serves; later ones are refused with 500
	// and counted, so a runaway retry loop ends. 100,000 when zero.
	MaxRequests int
	// TargetHost sends the target's address in the Host header instead of the proxy's
	// (fake-gcs-server routes by it). S3 signatures cover the Host header: leave it
	// false for S3.
	TargetHost bool
	// Lifetime is how long the proxy serves at most; it stops by itself afterwards (and
	// when the test ends). 10 minutes when zero.
	Lifetime time.Duration
}

// FaultStats counts what a FaultProxy did.
type FaultStats struct {
	Requests, SlowDown, TooMany, ResetRequest, ResetResponse, Slow, Refused int
}

// FaultProxy is a reverse proxy on 127.0.0.1 in front of one storage emulator that
// injects Faults.
type FaultProxy struct {
	// URL is the proxy's address, http://127.0.0.1:<port>.
	URL    string
	target *url.URL
	faults Faults
	ln     net.Listener
	client *http.Transport

	mu    sync.Mutex
	rnd   *rand.Rand
	stats FaultStats
	off   bool
}

// StartFaultProxy starts a FaultProxy in front of target (http://host:port); it stops
// when the test ends or its Lifetime is over.
func StartFaultProxy(t testing.TB, target string, f Faults) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		t.Fatalf("fault proxy target %q: %v", target, err)
	}
	if f.MaxDelay <= 0 {
		f.MaxDelay = 200 * time.Millisecond
	}
	if f.MaxRequests <= 0 {
		f.MaxRequests = 100_000
	}
	if f.Lifetime <= 0 {
		f.Lifetime = 10 * time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{
		URL: "http://" + ln.Addr().String(), target: u, faults: f, ln: ln,
		client: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, ResponseHeaderTimeout: time.Minute},
		rnd:    rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)),
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	stop := time.AfterFunc(f.Lifetime, func() { srv.Close() })
	t.Cleanup(func() {
		stop.Stop()
		srv.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

// Stats returns what the proxy did so far.
func (p *FaultProxy) Stats() FaultStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// SetFaults turns fault injection off (false) or on again.
func (p *FaultProxy) SetFaults(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off = !on
}

type fault int

const (
	none fault = iota
	slowDown
	tooMany
	reset
)

// draw picks the request's fault and delay.
func (p *FaultProxy) draw() (fault, time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	if p.stats.Requests > p.faults.MaxRequests {
		p.stats.Refused++
		return none, 0, false
	}
	x, d := p.rnd.Float64(), time.Duration(0)
	if p.rnd.Float64() < p.faults.Slow {
		d = time.Duration(p.rnd.Int64N(int64(p.faults.MaxDelay)))
		p.stats.Slow++
	}
	if p.off {
		return none, d, true
	}
	f := p.faults
	switch {
	case x < f.SlowDown:
		p.stats.SlowDown++
		return slowDown, d, true
	case x < f.SlowDown+f.TooMany:
		p.stats.TooMany++
		return tooMany, d, true
	case x < f.SlowDown+f.TooMany+f.Reset:
		return reset, d, true
	}
	return none, d, true
}

func (p *FaultProxy) count(field *int) {
	p.mu.Lock()
	*field++
	p.mu.Unlock()
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, delay, ok := p.draw()
	if !ok {
		http.Error(w, "fault proxy: request budget spent", http.StatusInternalServerError)
		return
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	switch f {
	case slowDown:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-ms-error-code", "ServerBusy")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		return
	case tooMany:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Too many requests.</Message></Error>`)
		return
	case reset:
		if r.ContentLength > 1 {
			// Half the body, then a reset: the server never sees the request.
			io.CopyN(io.Discard, r.Body, r.ContentLength/2)
			p.count(&p.stats.ResetRequest)
			p.resetConn(w, nil)
			return
		}
	}
	resp, err := p.forward(r)
	if err != nil {
		http.Error(w, "fault proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if f == reset {
		p.count(&p.stats.ResetResponse)
		p.resetConn(w, resp)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = p.rewrite(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// forward sends r to the target, with its Host header (which S3 signatures cover).
func (p *FaultProxy) forward(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.Scheme, u.Host = p.target.Scheme, p.target.Host
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	if p.faults.TargetHost {
		out.Host = p.target.Host
	}
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return p.client.RoundTrip(out)
}

// rewrite points Location headers (GCS resumable upload sessions) back at the proxy.
func (p *FaultProxy) rewrite(k string, v []string) []string {
	if k != "Location" {
		return v
	}
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.Replace(s, p.target.Host, strings.TrimPrefix(p.URL, "http://"), 1)
	}
	return out
}

// resetConn writes resp's headers and half its body, if any, straight on the
// connection, and closes it with a TCP reset.
func (p *FaultProxy) resetConn(w http.ResponseWriter, resp *http.Response) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if resp != nil {
		body, _ := io.ReadAll(resp.Body)
		var head bytes.Buffer
		fmt.Fprintf(&head, "HTTP/1.1 %s\r\n", resp.Status)
		h := resp.Header.Clone()
		for k, v := range h {
			h[k] = p.rewrite(k, v)
		}
		h.Set("Content-Length", fmt.Sprint(len(body)))
		h.Del("Transfer-Encoding")
		h.Write(&head)
		head.WriteString("\r\n")
		buf.Write(head.Bytes())
		buf.Write(body[:len(body)/2])
		buf.Flush()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// FaultLoop uploads objects of several sizes (multipart ones included) through p,
// downloads them back whole and in ranges, lists and deletes them, concurrently as the
// agent does, and returns the operations that failed (none is expected: faults are to be
// absorbed per request).
func FaultLoop(t *testing.T, p storage.Provider, objects int) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	sizes := []int{0, 1, 1000, 64 << 10, PartSize + 1, 2*PartSize + 17}
	rnd := rand.New(rand.NewPCG(1, 2))
	var (
		mu     sync.Mutex
		failed []error
		wg     sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		failed = append(failed, err)
		mu.Unlock()
	}
	sem := make(chan struct{}, 4)
	for i := range objects {
		n := sizes[i%len(sizes)]
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rnd.Uint32())
		}
		key := fmt.Sprintf("faults/%03d", i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			want := sha256.Sum256(data)
			if _, err := p.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{SHA256: hex.EncodeToString(want[:])}); err != nil {
				fail(fmt.Errorf("put %s (%d bytes): %w", key, n, err))
				return
			}
			if err := readBack(ctx, p, key, data, storage.Range{}); err != nil {
				fail(err)
			}
			if n > 10 {
				if err := readBack(ctx, p, key, data, storage.Range{Offset: int64(n / 3), Length: int64(n / 3)}); err != nil {
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	listed := 0
	for _, err := range p.List(ctx, "faults/") {
		if err != nil {
			fail(fmt.Errorf("list: %w", err))
			break
		}
		listed++
	}
	if listed != objects && len(failed) == 0 {
		fail(fmt.Errorf("listed %d objects, want %d", listed, objects))
	}
	for i := range objects {
		if err := p.Delete(ctx, fmt.Sprintf("faults/%03d", i)); err != nil {
			fail(fmt.Errorf("delete: %w", err))
		}
	}
	return failed
}

// readBack downloads rng of key and compares it with data.
func readBack(ctx context.Context, p storage.Provider, key string, data []byte, rng storage.Range) error {
	r, err := p.Get(ctx, key, rng)
	if err != nil {
		return fmt.Errorf("get %s %+v: %w", key, rng, err)
	}
	defer r.Close()
	got, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return fmt.Errorf("read %s %+v: %w", key, rng, err)
	}
	want := data
	if rng.Length > 0 {
		want = data[rng.Offset : rng.Offset+rng.Length]
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read %s %+v: %d bytes differ from the %d written", key, rng, len(got), len(want))
	}
	return nil
}

// DefaultFaults are the rates measured in issue 19 (about 11 % 503 SlowDown, 7 % resets),
// with some 429s and slow responses besides.
var DefaultFaults = Faults{Seed: 19, SlowDown: 0.11, TooMany: 0.02, Reset: 0.07, Slow: 0.1, MaxDelay: 100 * time.Millisecond, MaxRequests: 20_000}

// CheckFaults runs FaultLoop on p, which talks through proxy, and fails the test on any
// failed operation, or if the proxy injected too few faults to prove anything.
func CheckFaults(t *testing.T, p storage.Provider, proxy *FaultProxy) {
	t.Helper()
	start := time.Now()
	failed := FaultLoop(t, p, 24)
	st := proxy.Stats()
	t.Logf("%d requests in %v: %d 503 SlowDown, %d 429, %d reset mid-request, %d reset mid-response, %d slow, %d refused",
		st.Requests, time.Since(start).Round(time.Millisecond), st.SlowDown, st.TooMany, st.ResetRequest, st.ResetResponse, st.Slow, st.Refused)
	for _, err := range failed {
		t.Errorf("failed operation: %v", err)
	}
	if st.SlowDown == 0 || st.ResetRequest+st.ResetResponse == 0 || st.Refused > 0 {
		t.Errorf("the proxy injected too few faults, or refused requests: %+v", st)
	}
}
