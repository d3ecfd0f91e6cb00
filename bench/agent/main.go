// Command agent benchmarks cassandra-backup-agent against rclone: a backup of about 1 GiB of
// SSTables (many small, a few large) to versitygw and its restore, and `rclone copy
// --transfers 16` of the same files both ways, in one run. It prints a Markdown table with
// MiB/s, the agent/rclone ratio and each process's peak RSS. Run it through run.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

func main() {
	agentBin := flag.String("agent", "", "cassandra-backup-agent binary")
	gw := flag.String("versitygw", "", "versitygw binary")
	rclone := flag.String("rclone", "rclone", "rclone binary")
	work := flag.String("work", "", "working directory (a temporary one when empty)")
	large := flag.Int("large", 4, "number of large SSTables")
	largeMiB := flag.Int("large-mib", 160, "Data.db size of a large SSTable, MiB")
	small := flag.Int("small", 384, "number of small SSTables")
	smallKiB := flag.Int("small-kib", 900, "Data.db size of a small SSTable, KiB")
	flag.Parse()
	if err := run(*agentBin, *gw, *rclone, *work, *large, *largeMiB, *small, *smallKiB); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name    string
	seconds float64
	maxRSS  int64 // KiB
}

func run(agentBin, gw, rclone, work string, large, largeMiB, small, smallKiB int) error {
	if agentBin == "" || gw == "" {
		return fmt.Errorf("-agent and -versitygw are required")
	}
	if work == "" {
		d, err := os.MkdirTemp("", "agent-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	// versitygw on a free loopback port.
	port, err := freePort()
	if err != nil {
		return err
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	gwDir := filepath.Join(work, "s3")
	os.MkdirAll(gwDir, 0o755)
	gwCmd := exec.Command(gw, "--port", "127.0.0.1:"+strconv.Itoa(port), "--region", "us-east-1", "--health", "/health", "--quiet", "posix", gwDir)
	gwCmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=benchaccess", "ROOT_SECRET_KEY=benchsecretbenchsecret")
	if err := gwCmd.Start(); err != nil {
		return err
	}
	defer func() { gwCmd.Process.Kill(); gwCmd.Wait() }()
	if err := waitHTTP(endpoint + "/health"); err != nil {
		return err
	}

	// The node's data: a few large and many small SSTables.
	node, err := fakecassandra.Start(fakecassandra.Config{DataDirs: []string{filepath.Join(work, "data")}, NoSystemTables: true})
	if err != nil {
		return err
	}
	defer node.Close()
	for i := 0; i < large; i++ {
		if err := node.WriteSSTable("bench", "large", largeMiB<<20); err != nil {
			return err
		}
	}
	for i := 0; i < small; i++ {
		if err := node.WriteSSTable("bench", "small"+strconv.Itoa(i%16), smallKiB<<10); err != nil {
			return err
		}
	}
	total, files, err := dirSize(filepath.Join(work, "data"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "data: %d files, %.1f MiB\n", files, float64(total)/(1<<20))

	env := append(os.Environ(), "KUBERNETES_SERVICE_HOST=",
		"AWS_ACCESS_KEY_ID=benchaccess", "AWS_SECRET_ACCESS_KEY=benchsecretbenchsecret", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3="+endpoint)
	var results []result

	// Agent backup.
	addr := "127.0.0.1:" + strconv.Itoa(mustPort())
	serve := exec.Command(agentBin, "serve", "--listen", addr, "--jolokia-url", node.URL())
	serve.Env = env
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		return err
	}
	servePeak := watch(serve)
	if err := waitHTTP("http://" + addr + "/status"); err != nil {
		return err
	}
	req := agent.Request{Type: agent.TypeBackup, StorageLocation: "s3://agent-bench", SnapshotTag: "bench", CreateMissingBucket: true, Insecure: true, ConcurrentConnections: 16}
	start := time.Now()
	op, err := backup("http://"+addr, req)
	secs := time.Since(start).Seconds()
	serveRSS := servePeak.stop()
	serve.Process.Signal(syscall.SIGTERM)
	serve.Wait()
	if err != nil {
		return err
	}
	if op.State != agent.StateCompleted {
		return fmt.Errorf("agent backup: %s %v", op.State, op.Errors)
	}
	results = append(results, result{"agent backup", secs, serveRSS})

	// Agent restore (the init container).
	restoreDir := filepath.Join(work, "restore-agent")
	r := exec.Command(agentBin, "restore", "--storage-location", "s3://agent-bench", "--snapshot-tag", "bench", "--insecure",
		"--cluster", node.ClusterName(), "--dc", node.Datacenter(), "--host-id", node.HostID(), "--concurrent-connections", "16",
		"--data-dir", filepath.Join(restoreDir, "data"), "--commitlog-dir", filepath.Join(restoreDir, "commitlog"),
		"--hints-dir", filepath.Join(restoreDir, "hints"), "--saved-caches-dir", filepath.Join(restoreDir, "saved_caches"),
		"--tokens-file", filepath.Join(restoreDir, "tokens.yaml"), "--marker-file", filepath.Join(restoreDir, "restore_done"))
	r.Env, r.Stderr = env, os.Stderr
	start = time.Now()
	rss, err := runWatched(r)
	if err != nil {
		return fmt.Errorf("agent restore: %w", err)
	}
	results = append(results, result{"agent restore", time.Since(start).Seconds(), rss})

	// rclone both ways, same files (the live table directories), same server.
	// rclone's S3 client cannot combine AWS_CA_BUNDLE with its own transport.
	var renv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			renv = append(renv, kv)
		}
	}
	renv = append(renv, "RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ENDPOINT="+endpoint, "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=benchaccess",
		"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=benchsecretbenchsecret", "RCLONE_CONFIG_BENCH_REGION=us-east-1",
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true")
	mk := exec.Command(rclone, "mkdir", "bench:rclone-bench")
	mk.Env = renv
	if out, err := mk.CombinedOutput(); err != nil {
		return fmt.Errorf("rclone mkdir: %v: %s", err, out)
	}
	up := exec.Command(rclone, "copy", "--transfers", "16", "--exclude", "snapshots/**", filepath.Join(work, "data"), "bench:rclone-bench/data")
	up.Env, up.Stderr = renv, os.Stderr
	start = time.Now()
	rss, err = runWatched(up)
	if err != nil {
		return fmt.Errorf("rclone upload: %w", err)
	}
	results = append(results, result{"rclone copy up", time.Since(start).Seconds(), rss})
	down := exec.Command(rclone, "copy", "--transfers", "16", "bench:rclone-bench/data", filepath.Join(work, "restore-rclone"))
	down.Env, down.Stderr = renv, os.Stderr
	start = time.Now()
	rss, err = runWatched(down)
	if err != nil {
		return fmt.Errorf("rclone download: %w", err)
	}
	results = append(results, result{"rclone copy down", time.Since(start).Seconds(), rss})

	rtotal, _, err := dirSize(filepath.Join(restoreDir, "data"))
	if err != nil {
		return err
	}
	if rtotal != total {
		return fmt.Errorf("agent restored %d bytes of %d", rtotal, total)
	}
	mib := float64(total) / (1 << 20)
	fmt.Printf("Data: %d files, %.1f MiB (%d × %d MiB and %d × %d KiB SSTables, 8 components each); versitygw posix on loopback; 16 transfers each.\n\n",
		files, mib, large, largeMiB, small, smallKiB)
	fmt.Println("| run | seconds | MiB/s | agent ÷ rclone | peak RSS MiB |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for i, r := range results {
		ratio := ""
		if i < 2 {
			ratio = fmt.Sprintf("%.2f×", results[i+2].seconds/r.seconds)
		}
		fmt.Printf("| %s | %.2f | %.1f | %s | %.1f |\n", r.name, r.seconds, mib/r.seconds, ratio, float64(r.maxRSS)/1024)
	}
	return nil
}

func backup(url string, req agent.Request) (agent.Operation, error) {
	body, _ := json.Marshal(req)
	resp, err := http.Post(url+"/operations", "application/json", bytes.NewReader(body))
	if err != nil {
		return agent.Operation{}, err
	}
	var op agent.Operation
	json.NewDecoder(resp.Body).Decode(&op)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return op, fmt.Errorf("POST /operations: %s", resp.Status)
	}
	for {
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Get(url + "/operations/" + op.ID)
		if err != nil {
			return op, err
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(data, &op); err != nil {
			return op, err
		}
		if op.State.Final() {
			return op, nil
		}
	}
}

// peak samples a running process's VmHWM (its own high-water mark, unlike rusage's
// ru_maxrss, which a forked child inherits from this large parent) until it exits.
type peak struct {
	kib  atomic.Int64
	done chan struct{}
}

func watch(c *exec.Cmd) *peak {
	p := &peak{done: make(chan struct{})}
	go func() {
		for {
			select {
			case <-p.done:
				return
			default:
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid)); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
						if v, _ := strconv.ParseInt(f[1], 10, 64); v > p.kib.Load() {
							p.kib.Store(v)
						}
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return p
}

// stop ends the sampling and returns the peak in KiB.
func (p *peak) stop() int64 {
	close(p.done)
	return p.kib.Load()
}

// runWatched runs c and returns its peak RSS in KiB.
func runWatched(c *exec.Cmd) (int64, error) {
	if err := c.Start(); err != nil {
		return 0, err
	}
	p := watch(c)
	err := c.Wait()
	return p.stop(), err
}

func dirSize(dir string) (int64, int, error) {
	var n int64
	var files int
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Name() == "snapshots" {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
			files++
		}
		return nil
	})
	return n, files, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mustPort() int {
	p, err := freePort()
	if err != nil {
		panic(err)
	}
	return p
}

func waitHTTP(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer", url)
}
