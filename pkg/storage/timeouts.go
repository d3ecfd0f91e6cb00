package storage

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts bound each remote call of a provider, so that an endpoint that accepts a
// connection and never answers, or stops in the middle of a body, becomes an error
// instead of a hang. The zero value means the defaults.
type Timeouts struct {
	// Dial bounds opening a TCP connection; DefaultDialTimeout when zero.
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake; DefaultTLSHandshakeTimeout when zero.
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for a response's headers once the request is sent;
	// DefaultResponseHeaderTimeout when zero.
	ResponseHeader time.Duration
	// Idle bounds a read or write on a connection that makes no progress (a body that
	// stalls, a server that stops reading); DefaultIdleTimeout when zero. It is a
	// deadline pushed forward by every read and write, as rclone's --timeout is, so a
	// slow but moving transfer is never cut off.
	Idle time.Duration
}

// Defaults for Timeouts.
const (
	// DefaultDialTimeout bounds opening a connection.
	DefaultDialTimeout = 15 * time.Second
	// DefaultTLSHandshakeTimeout bounds a TLS handshake.
	DefaultTLSHandshakeTimeout = 15 * time.Second
	// DefaultResponseHeaderTimeout bounds the wait for response headers: S3 answers a
	// CompleteMultipartUpload of a large object with headers at once and keeps the
	// connection alive with whitespace, so a minute is generous.
	DefaultResponseHeaderTimeout = time.Minute
	// DefaultIdleTimeout bounds a read or write without progress.
	DefaultIdleTimeout = time.Minute
)

// WithDefaults returns t with zero fields set to their defaults.
func (t Timeouts) WithDefaults() Timeouts {
	if t.Dial <= 0 {
		t.Dial = DefaultDialTimeout
	}
	if t.TLSHandshake <= 0 {
		t.TLSHandshake = DefaultTLSHandshakeTimeout
	}
	if t.ResponseHeader <= 0 {
		t.ResponseHeader = DefaultResponseHeaderTimeout
	}
	if t.Idle <= 0 {
		t.Idle = DefaultIdleTimeout
	}
	return t
}

// Apply sets the timeouts on tr: its dialer, TLS handshake and response header timeouts,
// and connections that fail a read or write making no progress for Idle.
func (t Timeouts) Apply(tr *http.Transport) {
	t = t.WithDefaults()
	d := &net.Dialer{Timeout: t.Dial, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: t.Idle}, nil
	}
	tr.TLSHandshakeTimeout = t.TLSHandshake
	tr.ResponseHeaderTimeout = t.ResponseHeader
	tr.IdleConnTimeout = 90 * time.Second
}

// idleConn is a connection whose reads and writes fail after idle without progress. Each
// read or write moves the deadline of both directions, so sending a request on a pooled
// connection also extends the read that waits for its answer.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

var (
	clientsMu   sync.Mutex
	httpClients = map[Timeouts]*http.Client{}
)

// HTTPClient returns the pooled client with timeouts t that providers use when
// Config.HTTPClient is nil; providers with the same timeouts share its connections.
func HTTPClient(t Timeouts) *http.Client {
	t = t.WithDefaults()
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := httpClients[t]; ok {
		return c
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = 256
	t.Apply(tr)
	c := &http.Client{Transport: tr}
	httpClients[t] = c
	return c
}
