// Package serving holds what every HTTP server of ours shares: the timeouts that keep a
// slow or idle client (slowloris, a stalled body, a held keep-alive connection) from
// holding a connection and its goroutine forever.
package serving

import (
	"flag"
	"net/http"
	"time"
)

// Defaults of Timeouts.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
)

// Timeouts bound a client's hold on a connection; zero fields take the defaults.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included.
	Read time.Duration
	// Write bounds writing a response, from the end of the request's headers.
	Write time.Duration
	// Idle bounds the wait for the next request on a kept-alive connection.
	Idle time.Duration
}

// OrDefault returns t with the defaults in place of zero fields.
func (t Timeouts) OrDefault() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, DefaultReadHeaderTimeout)
	def(&t.Read, DefaultReadTimeout)
	def(&t.Write, DefaultWriteTimeout)
	def(&t.Idle, DefaultIdleTimeout)
	return t
}

// Register adds the --http-*-timeout flags.
func (t *Timeouts) Register(fs *flag.FlagSet) {
	fs.DurationVar(&t.ReadHeader, "http-read-header-timeout", DefaultReadHeaderTimeout, "HTTP servers: the time a client has to send a request's headers.")
	fs.DurationVar(&t.Read, "http-read-timeout", DefaultReadTimeout, "HTTP servers: the time a client has to send a whole request, body included.")
	fs.DurationVar(&t.Write, "http-write-timeout", DefaultWriteTimeout, "HTTP servers: the time to write a response.")
	fs.DurationVar(&t.Idle, "http-idle-timeout", DefaultIdleTimeout, "HTTP servers: how long a kept-alive connection may wait for its next request.")
}

// Server returns an http.Server for h at addr with the timeouts and header limit.
func (t Timeouts) Server(addr string, h http.Handler) *http.Server {
	t = t.OrDefault()
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
