package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// profiles are the restore and serve commands' profiling flags: where the time of a
// restore or of the operations a server runs goes, for benchmarks (bench/agent -profile)
// and for an operator chasing a slow restore or backup.
type profiles struct{ cpu, trace string }

func (p *profiles) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile (pprof) of the command (a restore, or a server until it stops) to this file")
	fs.StringVar(&p.trace, "trace", "", "write an execution trace (go tool trace) of the command to this file")
}

// start starts the profiles asked for and returns the function that stops them and
// closes their files.
func (p *profiles) start() (stop func() error, err error) {
	var stops []func() error
	stop = func() error {
		var errs []error
		for _, s := range stops {
			errs = append(errs, s())
		}
		return errors.Join(errs...)
	}
	for _, pr := range []struct {
		flag, path string
		start      func(io.Writer) error
		stop       func()
	}{
		{"--cpuprofile", p.cpu, pprof.StartCPUProfile, pprof.StopCPUProfile},
		{"--trace", p.trace, trace.Start, trace.Stop},
	} {
		if pr.path == "" {
			continue
		}
		f, err := os.Create(pr.path)
		if err == nil {
			if err = pr.start(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			return stop, fmt.Errorf("%s: %w", pr.flag, err)
		}
		stops = append(stops, func() error { pr.stop(); return f.Close() })
	}
	return stop, nil
}
