// Command agent benchmarks cassandra-backup-agent against rclone: a backup of about 1 GiB of
// SSTables (many small, a few large) to versitygw, a second backup of the same unchanged
// data, and a restore, and `rclone copy --transfers 16` of the same files (up twice, and
// down), in one run, with a plain local copy of the
// files as the floor of any restore on the machine's filesystem. It prints a Markdown table
// with MiB/s, the agent/rclone ratios, and each process's peak RSS and CPU time, then the
// median and range of the ratios over the rounds. Run it through run.sh (-rounds N repeats
// every contender N times).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
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
	rounds := flag.Int("rounds", 1, "how many times to run every contender")
	memory := flag.String("memory", "", "instead: the memory benchmark at these file counts (comma-separated, e.g. 40000,400000)")
	before := flag.String("before", "", "with -memory or -restore-only: an earlier agent binary to measure side by side")
	flag.StringVar(&profileDir, "profile", "", "write each round's agent restore and backup CPU profiles into this directory (restore-<round>.pprof, backup-<tag>-<round>.pprof)")
	flag.StringVar(&traceDir, "trace", "", "write each round's agent restore and backup execution traces into this directory (restore-<round>.trace, backup-<tag>-<round>.trace)")
	flag.BoolVar(&opts.restoreOnly, "restore-only", false, "instead: back up once, then each round restore and run the floors (the restore table alone)")
	flag.BoolVar(&opts.backupOnly, "backup-only", false, "instead: each round only the backups (agent and rclone, first and unchanged), the backup table alone")
	flag.BoolVar(&opts.halves, "halves", false, "with -restore-only: also restore two nodes of half the data each, one after the other")
	flag.Parse()
	if err := run(*agentBin, *gw, *rclone, *work, *large, *largeMiB, *small, *smallKiB, max(*rounds, 1), *memory, *before); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// opts are the restore benchmark's switches.
var opts struct{ restoreOnly, halves, backupOnly bool }

// profileDir and traceDir, when set, receive the agent restores' CPU profiles and
// execution traces.
var profileDir, traceDir string

type result struct {
	name    string
	seconds float64
	maxRSS  int64         // KiB
	cpu     time.Duration // user + system
	gwCPU   time.Duration // versitygw's user + system while it ran
}

func run(agentBin, gw, rclone, work string, large, largeMiB, small, smallKiB, rounds int, memory, before string) error {
	if agentBin == "" || gw == "" {
		return fmt.Errorf("-agent and -versitygw are required")
	}
	var counts []int
	if memory != "" {
		var err error
		if counts, err = parseCounts(memory); err != nil {
			return err
		}
	}
	if work == "" {
		d, err := os.MkdirTemp("", "agent-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	// versitygw on a free loopback port, keeping connections alive as S3 does (its
	// default closes each connection after one request).
	port, err := controlplane.FreePort()
	if err != nil {
		return err
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	gwDir := filepath.Join(work, "s3")
	os.MkdirAll(gwDir, 0o755)
	gwCmd := exec.Command(gw, "--port", "127.0.0.1:"+strconv.Itoa(port), "--region", "us-east-1", "--health", "/health", "--quiet", "--keep-alive", "posix", gwDir)
	gwCmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=benchaccess", "ROOT_SECRET_KEY=benchsecretbenchsecret")
	if err := gwCmd.Start(); err != nil {
		return err
	}
	defer func() { gwCmd.Process.Kill(); gwCmd.Wait() }()
	if err := waitHTTP(endpoint + "/health"); err != nil {
		return err
	}

	env := append(os.Environ(), "KUBERNETES_SERVICE_HOST=",
		"AWS_ACCESS_KEY_ID=benchaccess", "AWS_SECRET_ACCESS_KEY=benchsecretbenchsecret", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3="+endpoint)
	if len(counts) > 0 {
		return runMemory(agentBin, before, work, env, counts)
	}

	// The node's data: a few large and many small SSTables.
	dataDir := filepath.Join(work, "data")
	node, err := startNode(dataDir, large, largeMiB, small, smallKiB)
	if err != nil {
		return err
	}
	defer node.Close()
	total, files, err := dirSize(dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "data: %d files, %.1f MiB\n", files, float64(total)/(1<<20))
	if opts.restoreOnly {
		b := restoreBench{bins: []bin{{"after", agentBin}}, work: work, nodes: []*fakecassandra.Node{node}, env: env, total: total, gwPid: gwCmd.Process.Pid}
		if before != "" {
			b.bins = []bin{{"before", before}, {"after", agentBin}}
		}
		if opts.halves {
			// Two more nodes of half the SSTables each.
			for i := range 2 {
				n, err := startNode(filepath.Join(work, fmt.Sprintf("half-%d", i), "data"), large/2, largeMiB, small/2, smallKiB)
				if err != nil {
					return err
				}
				defer n.Close()
				b.nodes = append(b.nodes, n)
			}
		}
		return runRestoreOnly(b, rounds)
	}

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

	var rows [][]result
	for round := 1; round <= rounds; round++ {
		rs, err := runRound(round, agentBin, rclone, work, dataDir, node, env, renv, gwCmd.Process.Pid)
		if err != nil {
			return err
		}
		if !opts.backupOnly {
			restored, _, err := dirSize(filepath.Join(work, fmt.Sprintf("restore-agent-%d", round), "data"))
			if err != nil {
				return err
			}
			if restored != total {
				return fmt.Errorf("agent restored %d bytes of %d", restored, total)
			}
		}
		rows = append(rows, rs)
		for _, d := range []string{"restore-agent", "restore-rclone", "copy", "copyhash"} {
			os.RemoveAll(filepath.Join(work, fmt.Sprintf("%s-%d", d, round)))
		}
	}

	mib := float64(total) / (1 << 20)
	fmt.Printf("Data: %d files, %.1f MiB (%d × %d MiB and %d × %d KiB SSTables, 8 components each); versitygw posix with keep-alive on loopback; 16 transfers each; dirty pages flushed before each run.\n\n",
		files, mib, large, largeMiB, small, smallKiB)
	fmt.Println("| round | run | seconds | MiB/s | agent ÷ rclone | peak RSS MiB | CPU s | versitygw CPU s |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|")
	// The ratios: each agent row against its rclone row(s), within a round (the machine's
	// speed moves between rounds).
	pairs := []struct{ agent, rclone, rcloneSync string }{
		{"agent backup", "rclone copy up", ""},
		{"agent backup, unchanged", "rclone copy up, unchanged", ""},
		{rowFresh, "rclone copy up, unchanged", ""},
		{rowDue, "rclone copy up, unchanged", ""},
		{"agent restore", "rclone copy down", "rclone copy down + sync"},
	}
	ratios := map[string][]float64{}
	cpuRatios := map[string][]float64{}
	var floorRatios []float64 // agent restore ÷ the verifying floor, by round
	for i, rs := range rows {
		byName := map[string]result{}
		for _, r := range rs {
			byName[r.name] = r
		}
		floorRatios = append(floorRatios, byName["agent restore"].seconds/byName[verifyingFloor].seconds)
		ratio := map[string]string{}
		for _, pr := range pairs {
			a, r := byName[pr.agent], byName[pr.rclone]
			x := r.seconds / a.seconds
			ratios[pr.agent] = append(ratios[pr.agent], x)
			cpuRatios[pr.agent] = append(cpuRatios[pr.agent], (a.cpu+a.gwCPU).Seconds()/(r.cpu+r.gwCPU).Seconds())
			ratio[pr.agent] = fmt.Sprintf("%.2f×", x)
			if pr.rcloneSync != "" {
				xs := byName[pr.rcloneSync].seconds / a.seconds
				ratios[pr.agent+" with sync"] = append(ratios[pr.agent+" with sync"], xs)
				ratio[pr.agent] += fmt.Sprintf(" (%.2f× with sync)", xs)
			}
		}
		for _, r := range rs {
			rss, cpu, gwCPU := fmt.Sprintf("%.1f", float64(r.maxRSS)/1024), fmt.Sprintf("%.1f", r.cpu.Seconds()), fmt.Sprintf("%.1f", r.gwCPU.Seconds())
			if r.maxRSS == 0 {
				rss, gwCPU = "", ""
			}
			if r.cpu == 0 {
				cpu = ""
			}
			fmt.Printf("| %d | %s | %.2f | %.1f | %s | %s | %s | %s |\n", i+1, r.name, r.seconds, mib/r.seconds, ratio[r.name], rss, cpu, gwCPU)
		}
	}
	fmt.Printf("\nAgent ÷ rclone, median (range) of %d rounds: backup %s; unchanged data %s (no lifecycle expiry), %s (expiry, every object fresh), %s (expiry, every object due).\n", len(rows),
		spread(ratios["agent backup"]), spread(ratios["agent backup, unchanged"]), spread(ratios[rowFresh]), spread(ratios[rowDue]))
	if opts.backupOnly {
		return nil
	}
	fmt.Printf("Agent ÷ rclone, restore: %s, %s with sync.\n", spread(ratios["agent restore"]), spread(ratios["agent restore with sync"]))
	fmt.Printf("CPU of agent + versitygw ÷ CPU of rclone + versitygw: backup %s; unchanged data %s; restore %s.\n",
		spread(cpuRatios["agent backup"]), spread(cpuRatios["agent backup, unchanged"]), spread(cpuRatios["agent restore"]))
	fmt.Printf("Agent restore ÷ the verifying floor (%s), median (range) of %d rounds: %s.\n", verifyingFloor, len(rows), spread(floorRatios))
	return nil
}

// verifyingFloor names the floor of a restore that verifies what it writes.
const verifyingFloor = "local copy + SHA-256 + sync (floor)"

// startNode starts a fake node whose data directory holds large SSTables of largeMiB and
// small ones of smallKiB (spread over 16 tables).
func startNode(dataDir string, large, largeMiB, small, smallKiB int) (*fakecassandra.Node, error) {
	node, err := fakecassandra.Start(fakecassandra.Config{DataDirs: []string{dataDir}, NoSystemTables: true})
	if err != nil {
		return nil, err
	}
	for i := 0; i < large; i++ {
		if err := node.WriteSSTable("bench", "large", largeMiB<<20); err != nil {
			node.Close()
			return nil, err
		}
	}
	for i := 0; i < small; i++ {
		if err := node.WriteSSTable("bench", "small"+strconv.Itoa(i%16), smallKiB<<10); err != nil {
			node.Close()
			return nil, err
		}
	}
	return node, nil
}

// The rows of an unchanged-data backup under a lifecycle expiry.
const (
	rowFresh = "agent backup, unchanged, expiry, none due"
	rowDue   = "agent backup, unchanged, expiry, all due"
)

// spread formats the median and range of xs, as ratios.
func spread(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) == 1 {
		return fmt.Sprintf("%.2f×", med)
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", med, s[0], s[len(s)-1])
}

// runRound runs every contender once: agent backup, rclone up, both again on the unchanged
// data, agent restore, rclone down (and then sync, for the durability the agent's restore
// gives before its marker),
// and a plain local copy of the same files with a sync, the floor of any restore on
// this filesystem.
func runRound(round int, agentBin, rclone, work, dataDir string, node *fakecassandra.Node, env, renv []string, gwPid int) ([]result, error) {
	var out []result
	suffix := "-" + strconv.Itoa(round)
	// Each contender's row gets the CPU versitygw used since the previous row.
	gwMark := procCPU(gwPid)
	add := func(r result) {
		now := procCPU(gwPid)
		r.gwCPU, gwMark = now-gwMark, now
		out = append(out, r)
	}

	// Agent backup, to a bucket of its own per round: every round uploads everything.
	syscall.Sync()
	gwMark = procCPU(gwPid)
	bucket := "agent-bench" + suffix
	r, err := agentBackup("agent backup", agentBin, bucket, "bench", 0, node, env)
	if err != nil {
		return nil, err
	}
	add(r)

	// rclone up, the same files (the live table directories), same server.
	mk := exec.Command(rclone, "mkdir", "bench:rclone-bench"+suffix)
	mk.Env = renv
	if b, err := mk.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("rclone mkdir: %v: %s", err, b)
	}
	syscall.Sync()
	upCmd := func() *exec.Cmd {
		up := exec.Command(rclone, "copy", "--transfers", "16", "--exclude", "snapshots/**", dataDir, "bench:rclone-bench"+suffix+"/data")
		up.Env, up.Stderr = renv, os.Stderr
		return up
	}
	if r, err = timed("rclone copy up", upCmd()); err != nil {
		return nil, err
	}
	add(r)

	// The same data again, unchanged (the daily backup of a quiet table): the agent
	// snapshots, finds every object stored and writes a new manifest; rclone compares.
	// Three refresh policies: none (no lifecycle expiry, the default); a 30-day expiry
	// with every object written seconds ago (none due); and an expiry so short that
	// every object is due, a server-side copy each (the cost the default no longer pays).
	for _, b := range []struct {
		name, tag string
		expiry    time.Duration
	}{{"agent backup, unchanged", "again", 0}, {rowFresh, "again-fresh", 720 * time.Hour}, {rowDue, "again-due", time.Millisecond}} {
		syscall.Sync()
		gwMark = procCPU(gwPid)
		if r, err = agentBackup(b.name, agentBin, bucket, b.tag, b.expiry, node, env); err != nil {
			return nil, err
		}
		add(r)
	}
	syscall.Sync()
	if r, err = timed("rclone copy up, unchanged", upCmd()); err != nil {
		return nil, err
	}
	add(r)
	if opts.backupOnly {
		return out, nil
	}

	// Agent restore (the init container); its time includes the sync before its marker.
	restoreDir := filepath.Join(work, "restore-agent"+suffix)
	restore := restoreCmd(agentBin, bucket, "bench", node, restoreDir, env)
	if profileDir != "" {
		restore.Args = append(restore.Args, "--cpuprofile", filepath.Join(profileDir, "restore"+suffix+".pprof"))
	}
	if traceDir != "" {
		restore.Args = append(restore.Args, "--trace", filepath.Join(traceDir, "restore"+suffix+".trace"))
	}
	syscall.Sync()
	gwMark = procCPU(gwPid)
	r, err = timed("agent restore", restore)
	if err != nil {
		return nil, err
	}
	add(r)

	// rclone down, then the same durability.
	syscall.Sync()
	down := exec.Command(rclone, "copy", "--transfers", "16", "bench:rclone-bench"+suffix+"/data", filepath.Join(work, "restore-rclone"+suffix))
	down.Env, down.Stderr = renv, os.Stderr
	gwMark = procCPU(gwPid)
	r, err = timed("rclone copy down", down)
	if err != nil {
		return nil, err
	}
	add(r)
	start := time.Now()
	syscall.Sync()
	out = append(out, result{name: "rclone copy down + sync", seconds: r.seconds + time.Since(start).Seconds()})

	// The floor: a local copy of the same files, 16 at a time, and a sync.
	syscall.Sync()
	start, self := time.Now(), selfCPU()
	if err := copyTree(dataDir, filepath.Join(work, "copy"+suffix), 16, false); err != nil {
		return nil, err
	}
	syscall.Sync()
	out = append(out, result{name: "local copy + sync (floor)", seconds: time.Since(start).Seconds(), cpu: selfCPU() - self})
	// The floor of a restore that verifies what it writes: the same copy, with each file's
	// SHA-256 computed on the way, still without any network or server.
	syscall.Sync()
	start, self = time.Now(), selfCPU()
	if err := copyTree(dataDir, filepath.Join(work, "copyhash"+suffix), 16, true); err != nil {
		return nil, err
	}
	syscall.Sync()
	out = append(out, result{name: verifyingFloor, seconds: time.Since(start).Seconds(), cpu: selfCPU() - self})
	return out, nil
}

// agentBackup starts an agent (serve), backs the node up to bucket under tag (refreshing
// the reused objects due under a lifecycle expiry, when one is given), stops the agent,
// and returns the backup's wall time, and the agent's peak RSS and CPU time.
func agentBackup(name, agentBin, bucket, tag string, expiry time.Duration, node *fakecassandra.Node, env []string) (result, error) {
	port, err := controlplane.FreePort()
	if err != nil {
		return result{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	serve := exec.Command(agentBin, "serve", "--insecure-skip-auth", "--listen", addr, "--jolokia-url", node.URL()) // a data-path benchmark without a control plane
	file := "backup-" + tag + strings.TrimPrefix(bucket, "agent-bench")
	if profileDir != "" {
		serve.Args = append(serve.Args, "--cpuprofile", filepath.Join(profileDir, file+".pprof"))
	}
	if traceDir != "" {
		serve.Args = append(serve.Args, "--trace", filepath.Join(traceDir, file+".trace"))
	}
	serve.Env = env
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		return result{}, err
	}
	servePeak := watch(serve)
	if err := waitHTTP("http://" + addr + "/status"); err != nil {
		return result{}, err
	}
	req := api.Request{Type: api.TypeBackup, StorageLocation: "s3://" + bucket, SnapshotTag: tag, CreateMissingBucket: true, Insecure: true, ConcurrentConnections: 16, LifecycleExpiry: expiry}
	start := time.Now()
	op, err := backup("http://"+addr, req)
	secs := time.Since(start).Seconds()
	serveRSS := servePeak.stop()
	serve.Process.Signal(syscall.SIGTERM)
	serve.Wait()
	if err != nil {
		return result{}, err
	}
	if op.State != api.StateCompleted {
		return result{}, fmt.Errorf("%s: %s %v", name, op.State, op.Errors)
	}
	// The serve process did nothing but this backup, so its CPU time is the backup's.
	return result{name: name, seconds: secs, maxRSS: serveRSS, cpu: cpuOf(serve)}, nil
}

// restoreCmd returns the agent's restore (the init container) of bucket's backup tag of
// node into restoreDir.
func restoreCmd(agentBin, bucket, tag string, node *fakecassandra.Node, restoreDir string, env []string) *exec.Cmd {
	restore := exec.Command(agentBin, "restore", "--storage-location", "s3://"+bucket, "--snapshot-tag", tag, "--insecure",
		"--cluster", node.ClusterName(), "--dc", node.Datacenter(), "--host-id", node.HostID(), "--concurrent-connections", "16",
		"--data-dir", filepath.Join(restoreDir, "data"), "--commitlog-dir", filepath.Join(restoreDir, "commitlog"),
		"--hints-dir", filepath.Join(restoreDir, "hints"), "--saved-caches-dir", filepath.Join(restoreDir, "saved_caches"),
		"--tokens-file", filepath.Join(restoreDir, "tokens.yaml"), "--marker-file", filepath.Join(restoreDir, "restore_done"))
	restore.Env, restore.Stderr = env, os.Stderr
	return restore
}

// timed runs c and returns its wall time, peak RSS and CPU time.
func timed(name string, c *exec.Cmd) (result, error) {
	start := time.Now()
	rss, err := runWatched(c)
	if err != nil {
		// The peak so far is still worth knowing (a million-file run that fails late).
		return result{}, fmt.Errorf("%s (peak RSS %.1f MiB after %.0f s): %w", name, float64(rss)/1024, time.Since(start).Seconds(), err)
	}
	return result{name: name, seconds: time.Since(start).Seconds(), maxRSS: rss, cpu: cpuOf(c)}, nil
}

// procCPU returns the user + system CPU time of a running process (from /proc; 0 when
// it cannot be read).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// selfCPU returns this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuOf(c *exec.Cmd) time.Duration {
	return c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}

// hashBuffers are the hashing copy's 256 KiB buffers, pooled as the agent's are, so that
// the floor pays for no allocation the agent does not.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyTree copies the regular files under src (but not snapshots/) to dst (hashing each
// with SHA-256 on the way when hash is set), workers at a
// time, each through a temporary name renamed into place, as a restore does.
func copyTree(src, dst string, workers int, hash bool) error {
	var paths []string
	if err := dataFiles(src, func(p string, _ os.FileInfo) { paths = append(paths, p) }); err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(workers)
	for _, p := range paths {
		g.Go(func() error {
			rel, _ := filepath.Rel(src, p)
			to := filepath.Join(dst, rel)
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return err
			}
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			tmp, err := os.CreateTemp(filepath.Dir(to), ".copy-*")
			if err != nil {
				return err
			}
			var cerr error
			if hash {
				// Through user space, as a verifying restore must: read, SHA-256, write.
				h := sha256.New()
				buf := hashBuffers.Get().(*[]byte)
				_, cerr = io.CopyBuffer(io.MultiWriter(tmp, h), struct{ io.Reader }{in}, *buf)
				hashBuffers.Put(buf)
				_ = h.Sum(nil)
			} else {
				_, cerr = io.Copy(tmp, in) // copy_file_range: in the kernel
			}
			if cerr != nil {
				tmp.Close()
				return cerr
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), to)
		})
	}
	return g.Wait()
}

func backup(url string, req api.Request) (api.Operation, error) {
	body, _ := json.Marshal(req)
	post, err := http.NewRequest(http.MethodPost, url+"/operations", bytes.NewReader(body))
	if err != nil {
		return api.Operation{}, err
	}
	post.Header = req.Headers()
	if post.Header == nil {
		post.Header = http.Header{}
	}
	post.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(post)
	if err != nil {
		return api.Operation{}, err
	}
	var op api.Operation
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
	err := dataFiles(dir, func(_ string, fi os.FileInfo) {
		n += fi.Size()
		files++
	})
	return n, files, err
}

// dataFiles calls fn for every regular file under dir, leaving out snapshots/ directories.
func dataFiles(dir string, fn func(path string, fi os.FileInfo)) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Name() == "snapshots" {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			fn(p, fi)
		}
		return nil
	})
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
