package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// TestMain runs the demo on the pod network when root (podnet.DefaultWhenRoot).
func TestMain(m *testing.M) {
	podnet.DefaultWhenRoot(os.Stderr)
	os.Exit(m.Run())
}

// TestDemo runs the demo as `make demo` does (smaller data) and checks that it verified
// every restored pod, printed the kubeconfig and progress tables, and cleaned up.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	// On the pod network as root (CASSBACKUP_PODNET=0: loopback), as `make demo` does.
	err := Run(ctx, &out, Options{Dir: dir, DataKiB: 256, PodNetwork: podnet.Enabled()})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	text := out.String()
	for _, want := range []string{
		"kubeconfig: " + filepath.Join(dir, "controlplane", "kubeconfig"),
		"test-cassandra-backup                     COMPLETED   100%",
		"VERIFIED: cluster test-cluster restored into cluster test-cluster-clone",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A pod's line names its address ("IP 198.18.4.2"); the pod network's header line
	// also says "IP", without one.
	ips := len(regexp.MustCompile(`\bIP \d+\.\d+\.\d+\.\d+`).FindAllString(text, -1))
	if n := strings.Count(text, "  host id "); n != 3 || ips != 6 {
		t.Errorf("%d source pods, %d pods with their IP; want 3 and 6", n, ips)
	}
	if n := strings.Count(text, "bytes identical: true"); n != 3 {
		t.Errorf("%d pods verified, want 3", n)
	}
	if strings.Contains(text, "FAILED") {
		t.Errorf("output reports a failure")
	}
}
