//go:build bench

// The storage benchmark: 400 MiB as 20 × 20 MiB files uploaded to and downloaded from
// versitygw on 127.0.0.1, through storage.Provider, through a bare aws-sdk-go-v2 upload
// manager and downloader, and through rclone — side by side in one run. Each contender
// runs in its own child process so its peak RSS is its own. Run it with bench/storage/run.sh.
package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// files and fileSize default to the 20 × 20 MiB; BENCH_FILES and BENCH_FILE_MIB
// change them, to check that peak RSS does not grow with object size.
var (
	files    = envInt("BENCH_FILES", 20)
	fileSize = envInt("BENCH_FILE_MIB", 20) << 20
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

const (
	partSize = 5 << 20
	// transfers is the number of files in flight, as rclone's --transfers 16.
	transfers = 16
)

// result is what a child reports.
type result struct {
	Up, Down time.Duration
	// PeakRSS is the child's own high-water RSS in bytes (VmHWM). The ru_maxrss that wait4
	// reports is not used: Linux carries the parent's RSS into it across the child's exec.
	PeakRSS int64
}

// vmHWM reads this process's peak resident set size from /proc.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

type row struct {
	name         string
	up, down     float64 // MiB/s
	peakRSSBytes int64
	cpu          time.Duration // user + system CPU of the contender's process
}

func TestStorageBench(t *testing.T) {
	if role := os.Getenv("BENCH_ROLE"); role != "" {
		child(t, role)
		return
	}
	srv := emulators.S3(t)
	src := t.TempDir()
	for i := range files {
		b := make([]byte, fileSize)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d.db", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"BENCH_SRC=" + src, "BENCH_ENDPOINT=" + srv.Endpoint, "BENCH_REGION=" + srv.Region,
		"BENCH_ACCESS=" + srv.AccessKey, "BENCH_SECRET=" + srv.SecretKey,
	}
	rounds, _ := strconv.Atoi(os.Getenv("BENCH_ROUNDS"))
	rounds = max(rounds, 1)
	var rows []row
	for r := range rounds {
		for _, role := range []string{"provider", "sdk", "rclone"} {
			bucket := fmt.Sprintf("bench-%s-%d", role, r)
			srv.CreateBucket(t, bucket)
			dst := t.TempDir()
			// Flush dirty pages (the source files, the last contender's objects) so that
			// no contender pays for another's writeback.
			syscall.Sync()
			var res result
			var rss int64
			var cpu time.Duration
			if role == "rclone" {
				res, rss, cpu = runRclone(t, srv, bucket, src, dst)
			} else {
				res, rss, cpu = runChild(t, role, append(env, "BENCH_BUCKET="+bucket, "BENCH_DST="+dst))
			}
			verify(t, src, dst)
			rows = append(rows, row{name: role, up: mibps(res.Up), down: mibps(res.Down), peakRSSBytes: rss, cpu: cpu})
			os.RemoveAll(dst)
		}
	}
	printTable(rows)
}

func mibps(d time.Duration) float64 {
	return float64(files) * float64(fileSize) / (1 << 20) / d.Seconds()
}

// runChild re-runs this test binary as role and returns its timings and peak RSS.
func runChild(t *testing.T, role string, env []string) (result, int64, time.Duration) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStorageBench$", "-test.count=1")
	cmd.Env = append(os.Environ(), append(env, "BENCH_ROLE="+role)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s child: %v\n%s", role, err, out.String())
	}
	var res result
	for _, line := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(line, "BENCH_RESULT "); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				t.Fatal(err)
			}
			return res, res.PeakRSS, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
	}
	t.Fatalf("%s child printed no result:\n%s", role, out.String())
	return result{}, 0, 0
}

// runRclone copies up and down with Debian's rclone, configured through its environment.
func runRclone(t *testing.T, srv *emulators.S3Server, bucket, src, dst string) (result, int64, time.Duration) {
	bin, err := exec.LookPath("rclone")
	if err != nil {
		t.Fatalf("rclone is not installed (apt-get install -y rclone): %v", err)
	}
	env := []string{
		"RCLONE_CONFIG=" + filepath.Join(t.TempDir(), "rclone.conf"),
		"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=" + srv.AccessKey, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"RCLONE_CONFIG_BENCH_ENDPOINT=" + srv.Endpoint, "RCLONE_CONFIG_BENCH_REGION=" + srv.Region,
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
	}
	var maxRSS int64
	var cpu time.Duration
	run := func(from, to string) time.Duration {
		// As the issue asks: env -u AWS_CA_BUNDLE rclone copy --transfers 16.
		// GNU time reports rclone's own peak RSS (its ru_maxrss starts from time's tiny RSS).
		rssFile := filepath.Join(t.TempDir(), "rss")
		args := append([]string{"-f", "%M", "-o", rssFile, "env", "-u", "AWS_CA_BUNDLE"}, env...)
		args = append(args, bin, "copy", "--transfers", strconv.Itoa(transfers), "--s3-chunk-size", "5M", from, to)
		cmd := exec.Command("/usr/bin/time", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("rclone copy %s %s: %v\n%s", from, to, err, out.String())
		}
		d := time.Since(start)
		b, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatalf("GNU time output %q: %v", b, err)
		}
		maxRSS = max(maxRSS, kb<<10)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() // time's and rclone's
		return d
	}
	up := run(src, "bench:"+bucket+"/data")
	down := run("bench:"+bucket+"/data", dst)
	return result{Up: up, Down: down}, maxRSS, cpu
}

// verify checks that every downloaded file equals its source.
func verify(t *testing.T, src, dst string) {
	for i := range files {
		name := fmt.Sprintf("f%02d.db", i)
		a, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			t.Fatalf("download of %s missing: %v", name, err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("download of %s differs from its source", name)
		}
	}
}

// printTable prints one line per contender and round; ratios compare with the bare SDK
// and rclone of the same round, since the machine's load varies between rounds.
func printTable(rows []row) {
	fmt.Printf("\n%d MiB as %d x %d MiB files to versitygw on 127.0.0.1, %d files in flight, %d MiB parts\n\n", files*fileSize>>20, files, fileSize>>20, transfers, partSize>>20)
	fmt.Printf("| %-5s | %-8s | %8s | %10s | %7s | %8s | %9s | %11s | %12s | %9s |\n", "round", "client", "up MiB/s", "down MiB/s", "up/sdk", "down/sdk", "up/rclone", "down/rclone", "peak RSS MiB", "CPU s")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 11), strings.Repeat("-", 7), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 12), strings.Repeat("-", 9), strings.Repeat("-", 10), strings.Repeat("-", 11), strings.Repeat("-", 13), strings.Repeat("-", 14))
	for i := 0; i+2 < len(rows); i += 3 {
		sdk, rc := rows[i+1], rows[i+2]
		for _, r := range rows[i : i+3] {
			fmt.Printf("| %5d | %-8s | %8.1f | %10.1f | %6.0f%% | %7.0f%% | %8.2fx | %10.2fx | %12.0f | %9.1f |\n",
				i/3+1, r.name, r.up, r.down, 100*r.up/sdk.up, 100*r.down/sdk.down, r.up/rc.up, r.down/rc.down, float64(r.peakRSSBytes)/(1<<20), r.cpu.Seconds())
		}
	}
}

// child runs one contender's upload and download and prints its timings.
func child(t *testing.T, role string) {
	src, dst, bucket := os.Getenv("BENCH_SRC"), os.Getenv("BENCH_DST"), os.Getenv("BENCH_BUCKET")
	ctx := context.Background()
	var up, down func(name string) error
	switch role {
	case "provider":
		secret := map[string][]byte{
			"awsaccesskeyid": []byte(os.Getenv("BENCH_ACCESS")), "awssecretaccesskey": []byte(os.Getenv("BENCH_SECRET")),
			"awsregion": []byte(os.Getenv("BENCH_REGION")), "awsendpoint": []byte(os.Getenv("BENCH_ENDPOINT")),
		}
		p, _, err := storage.OpenLocation(ctx, "s3://"+bucket, storage.Config{
			Credentials: storage.StaticCredentials(secret), Insecure: true, PartSize: partSize, Concurrency: 5,
			UploadCutoff: uploadCutoff(),
		})
		if err != nil {
			t.Fatal(err)
		}
		up = func(name string) error {
			f, err := os.Open(filepath.Join(src, name))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = p.Put(ctx, "data/"+name, f, storage.PutOptions{})
			return err
		}
		down = func(name string) error {
			rc, err := p.Get(ctx, "data/"+name, storage.Range{})
			if err != nil {
				return err
			}
			defer rc.Close()
			return writeFile(filepath.Join(dst, name), rc)
		}
	case "sdk":
		c := s3.New(s3.Options{
			Region: os.Getenv("BENCH_REGION"), BaseEndpoint: aws.String(os.Getenv("BENCH_ENDPOINT")), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("BENCH_ACCESS"), os.Getenv("BENCH_SECRET"), ""),
			HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}},
		})
		u := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = partSize })
		d := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = partSize })
		up = func(name string) error {
			f, err := os.Open(filepath.Join(src, name))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = u.Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("data/" + name), Body: f})
			return err
		}
		down = func(name string) error {
			f, err := os.Create(filepath.Join(dst, name))
			if err != nil {
				return err
			}
			if _, err := d.Download(ctx, f, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("data/" + name)}); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	default:
		t.Fatalf("unknown role %s", role)
	}
	// BENCH_CPUPROFILE=dir writes <dir>/<role>-up.pprof: where the upload's CPU goes.
	var res result
	if dir := os.Getenv("BENCH_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, role+"-up.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		res.Up = parallel(t, up)
		pprof.StopCPUProfile()
		f.Close()
	} else {
		res.Up = parallel(t, up)
	}
	res.Down, res.PeakRSS = parallel(t, down), vmHWM(t)
	j, _ := json.Marshal(res)
	fmt.Printf("BENCH_RESULT %s\n", j)
}

// uploadCutoff is the Provider's: BENCH_UPLOAD_CUTOFF_MIB, or one part, so that it sends
// its files in parts as the bare SDK does.
func uploadCutoff() int64 {
	return int64(envInt("BENCH_UPLOAD_CUTOFF_MIB", partSize>>20)) << 20
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parallel runs fn on every file, transfers at a time, and returns the elapsed time.
func parallel(t *testing.T, fn func(name string) error) time.Duration {
	start := time.Now()
	sem := make(chan struct{}, transfers)
	var wg sync.WaitGroup
	errs := make(chan error, files)
	for i := range files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(fmt.Sprintf("f%02d.db", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return time.Since(start)
}
