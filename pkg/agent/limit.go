package agent

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Defaults of the operation limit.
const (
	// DefaultMaxOperations is how many operations an agent runs at once.
	DefaultMaxOperations = 4
	// DefaultRetryAfter is the Retry-After of an agent at its limit.
	DefaultRetryAfter = 15 * time.Second
)

// BusyError refuses an operation while Max operations are pending or running.
type BusyError struct {
	// Max is the agent's limit.
	Max int
	// RetryAfter is when to try again.
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("the agent runs %d operations, its limit: retry in %s", e.Max, e.RetryAfter)
}

// acquire takes one of the MaxOperations slots; a BusyError when none is free.
func (s *Server) acquire() error {
	s.slotsOnce.Do(func() {
		n := s.MaxOperations
		if n <= 0 {
			n = DefaultMaxOperations
		}
		s.slots = make(chan struct{}, n)
	})
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
		retry := s.RetryAfter
		if retry <= 0 {
			retry = DefaultRetryAfter
		}
		return &BusyError{Max: cap(s.slots), RetryAfter: retry}
	}
}

// release frees the slot an operation took.
func (s *Server) release() { <-s.slots }

// writeBusy answers 429 Too Many Requests with Retry-After in whole seconds.
func writeBusy(w http.ResponseWriter, e *BusyError) {
	w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	writeError(w, http.StatusTooManyRequests, e.Error())
}
