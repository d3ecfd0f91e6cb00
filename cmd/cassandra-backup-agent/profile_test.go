package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The restore's profiles are written whole once stopped; a file that cannot be created is
// an error naming its flag.
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	p := profiles{cpu: filepath.Join(dir, "cpu.pprof"), trace: filepath.Join(dir, "restore.trace")}
	stop, err := p.start()
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.cpu, p.trace} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v, %v; want a non-empty file", f, fi, err)
		}
	}
	bad := profiles{trace: filepath.Join(dir, "missing", "t")}
	stop, err = bad.start()
	if err == nil || !strings.Contains(err.Error(), "--trace") {
		t.Errorf("start with an uncreatable file: %v, want an error naming --trace", err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop after a failed start: %v", err)
	}
}
