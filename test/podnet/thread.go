package podnet

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// The namespace thread: one goroutine, locked to its OS thread for the life of the
// process, does everything that must happen inside a pod's namespace (creating the
// namespace, sockets, child processes). A socket stays in the namespace it was created
// in, and a child process starts in its creating thread's namespace. The thread never
// exits: PDEATHSIG fires when the thread that started a child ends, not the process, so
// a locked thread that died (the runtime kills a thread whose locked goroutine returns)
// would take the pods' processes with it.
var thread struct {
	once sync.Once
	reqs chan func()
	home int // the process's own network namespace
	err  error
}

func startThread() error {
	thread.once.Do(func() {
		ready := make(chan struct{})
		thread.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked, and the goroutine never returns
			thread.home, thread.err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			close(ready)
			for f := range thread.reqs {
				f()
			}
		}()
		<-ready
	})
	return thread.err
}

// onThread runs f on the namespace thread; a panic in f is raised again in the caller.
func onThread(f func()) error {
	if err := startThread(); err != nil {
		return fmt.Errorf("podnet: open the process's network namespace: %w", err)
	}
	var p any
	done := make(chan struct{})
	thread.reqs <- func() {
		defer close(done)
		defer func() { p = recover() }()
		f()
	}
	<-done
	if p != nil {
		panic(p)
	}
	return nil
}

// inNamespace runs fn on the namespace thread switched into the namespace ns, and
// switches the thread back to the process's namespace afterwards.
func inNamespace(ns int, fn func() error) error {
	var err error
	terr := onThread(func() {
		if e := unix.Setns(ns, unix.CLONE_NEWNET); e != nil {
			err = fmt.Errorf("podnet: enter pod namespace: %w", e)
			return
		}
		defer func() {
			if e := unix.Setns(thread.home, unix.CLONE_NEWNET); e != nil {
				// The thread still holds the pod's namespace; every request enters its
				// own namespace first, so only that namespace's lifetime suffers.
				err = errors.Join(err, fmt.Errorf("podnet: return to the process's namespace: %w", e))
			}
		}()
		err = fn()
	})
	return errors.Join(terr, err)
}

// newNamespace creates a network namespace and returns a file descriptor that holds it;
// the namespace lives until the descriptor is closed and every process in it has ended.
func newNamespace() (int, error) {
	fd := -1
	var err error
	terr := onThread(func() {
		if e := unix.Unshare(unix.CLONE_NEWNET); e != nil {
			if errors.Is(e, unix.EPERM) {
				err = fmt.Errorf("%w: unshare(CLONE_NEWNET): %v", ErrNotPermitted, e)
			} else {
				err = fmt.Errorf("podnet: unshare(CLONE_NEWNET): %w", e)
			}
			return
		}
		fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if e := unix.Setns(thread.home, unix.CLONE_NEWNET); e != nil {
			err = errors.Join(err, fmt.Errorf("podnet: return to the process's namespace: %w", e))
		}
	})
	if err := errors.Join(terr, err); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, err
	}
	return fd, nil
}
