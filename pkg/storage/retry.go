package storage

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Retry is how a provider retries one request that failed transiently (a 5xx, a 429 or
// 503 SlowDown, a reset connection, a timeout): with exponential backoff and full
// jitter, honouring Retry-After, within MaxAttempts. The budget is sized for throttling:
// at one request in five failing, ten attempts fail together about once in ten million
// requests. The zero value means the defaults.
type Retry struct {
	// MaxAttempts is the number of tries of one request, the first included;
	// DefaultMaxAttempts when zero.
	MaxAttempts int
	// MaxBackoff caps the wait between two tries, Retry-After included;
	// DefaultMaxBackoff when zero.
	MaxBackoff time.Duration
}

// Defaults for Retry.
const (
	// DefaultMaxAttempts is the number of tries of one request.
	DefaultMaxAttempts = 10
	// DefaultMaxBackoff caps the wait between tries (the AWS SDKs' own cap).
	DefaultMaxBackoff = 20 * time.Second
	// firstBackoff is the wait cap before the second try; it doubles with each try.
	firstBackoff = 200 * time.Millisecond
)

// WithDefaults returns r with zero fields set to their defaults.
func (r Retry) WithDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	return r
}

// FirstBackoff is the wait cap before the second try; it doubles with each further try.
func (r Retry) FirstBackoff() time.Duration { return min(firstBackoff, r.WithDefaults().MaxBackoff) }

// Backoff returns the wait before try attempt+1 after try attempt (1-based) failed:
// the server's Retry-After when h carries one (capped at MaxBackoff), or else a random
// duration up to FirstBackoff·2^(attempt-1), capped at MaxBackoff (full jitter).
func (r Retry) Backoff(attempt int, h http.Header) time.Duration {
	r = r.WithDefaults()
	if d, ok := RetryAfter(h); ok {
		return min(d, r.MaxBackoff)
	}
	ceiling := r.MaxBackoff
	if attempt < 30 {
		ceiling = min(r.FirstBackoff()<<max(attempt-1, 0), r.MaxBackoff)
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// RetryAfter parses a Retry-After header (delay seconds or an HTTP date) or Azure's
// x-ms-retry-after-ms.
func RetryAfter(h http.Header) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	if v := h.Get("x-ms-retry-after-ms"); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, 3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
