package reconciler

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
)

// TestRunDrainsWorkInFlight cancels Run while a handler is running: Run waits for the
// handler, whose context is not cancelled, and the object's result is written.
func TestRunDrainsWorkInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	handlerErr := make(chan error, 1)
	h := newHarness(t, OnCreate("slow", func(ctx context.Context, ev *Event[backup]) (Result, error) {
		close(started)
		<-release
		handlerErr <- ctx.Err()
		ev.Object.Status.Progress = "100%"
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	if err := h.indexer.Add(h.get("b")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx, 2) }()
	h.c.queue.Add(cache.ObjectName{Namespace: "ns", Name: "b"})
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("handler not called")
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a handler in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the handler finished")
	}
	if err := <-handlerErr; err != nil {
		t.Errorf("the handler's context was cancelled during the drain: %v", err)
	}
	if got := h.get("b").Status.Progress; got != "100%" {
		t.Errorf("the drained pass did not write its result: progress %q", got)
	}
	if !h.c.queue.ShuttingDown() {
		t.Error("queue not shut down")
	}
}
