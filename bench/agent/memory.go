package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// The memory benchmark (-memory 40000,400000): for each file count, a node of that many
// small files (SSTables of 8 components, 16 tables), backed up fresh, backed up again
// unchanged, and restored, by the agent and (-before) by an earlier build of it, each
// process's peak RSS side by side. The agent's memory must not grow with the file count.

// memRuns are the runs of the memory benchmark, in order.
var memRuns = []string{"backup, fresh", "backup, unchanged", "restore"}

// runMemory runs the memory benchmark against the S3 endpoint env points at.
func runMemory(agentBin, beforeBin, work string, env []string, counts []int) error {
	bins := []bin{{"after", agentBin}}
	if beforeBin != "" {
		bins = []bin{{"before", beforeBin}, {"after", agentBin}}
	}
	results := map[string]result{} // by "<files>/<label>/<run>"
	var files []int
	for _, n := range counts {
		dataDir := filepath.Join(work, fmt.Sprintf("mem-%d", n), "data")
		node, err := fakecassandra.Start(fakecassandra.Config{DataDirs: []string{dataDir}, NoSystemTables: true})
		if err != nil {
			return err
		}
		for i := 0; i < (n+7)/8; i++ {
			if err := node.WriteSSTable("bench", "small"+strconv.Itoa(i%16), 512); err != nil {
				node.Close()
				return err
			}
		}
		total, count, err := dirSize(dataDir)
		if err != nil {
			node.Close()
			return err
		}
		files = append(files, count)
		fmt.Fprintf(os.Stderr, "memory: %d files, %.1f MiB\n", count, float64(total)/(1<<20))
		// The new build first: on a long run, its figures are the ones that matter.
		for _, b := range slices.Backward(bins) {
			if err := memoryRound(b.label, b.path, work, node, env, total, count, results); err != nil {
				node.Close()
				return err
			}
		}
		node.Close()
		os.RemoveAll(filepath.Dir(dataDir))
	}
	fmt.Println("Agent peak RSS (VmHWM) by node file count; versitygw posix on loopback; 16 connections.")
	fmt.Println()
	head, rule := "| files | run |", "|---:|---|"
	for _, b := range bins {
		head += fmt.Sprintf(" %s: peak RSS MiB | %s: seconds |", b.label, b.label)
		rule += "---:|---:|"
	}
	fmt.Println(head)
	fmt.Println(rule)
	for _, n := range files {
		for _, run := range memRuns {
			line := fmt.Sprintf("| %d | %s |", n, run)
			for _, b := range bins {
				r := results[fmt.Sprintf("%d/%s/%s", n, b.label, run)]
				line += fmt.Sprintf(" %.1f | %.1f |", float64(r.maxRSS)/1024, r.seconds)
			}
			fmt.Println(line)
		}
	}
	return nil
}

// memoryRound backs node up (fresh), restores that backup, checking the restored size,
// and backs the node up again unchanged, recording each run's result. The unchanged backup
// comes last: at a million files it is the longest run, and the fresh backup and the
// restore are the two whose peak must stay within bounds.
func memoryRound(label, path, work string, node *fakecassandra.Node, env []string, total int64, files int, results map[string]result) error {
	bucket := fmt.Sprintf("mem-%d-%s", files, label)
	record := func(run string, r result) {
		results[fmt.Sprintf("%d/%s/%s", files, label, run)] = r
		fmt.Fprintf(os.Stderr, "memory: %d files, %s, %s: %.1f MiB, %.1f s (%s)\n", files, label, run, float64(r.maxRSS)/1024, r.seconds, loadAvg())
	}
	r, err := agentBackup(memRuns[0], path, bucket, "m1", 0, node, env)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	record(memRuns[0], r)
	dir := filepath.Join(work, "mem-restore-"+label)
	r, err = timed(memRuns[2], restoreCmd(path, bucket, "m1", node, dir, env))
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	restored, _, err := dirSize(filepath.Join(dir, "data"))
	os.RemoveAll(dir)
	if err != nil {
		return err
	}
	if restored != total {
		return fmt.Errorf("%s restored %d bytes of %d", label, restored, total)
	}
	record(memRuns[2], r)
	if r, err = agentBackup(memRuns[1], path, bucket, "m2", 0, node, env); err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	record(memRuns[1], r)
	return nil
}

// loadAvg returns the machine's load averages (/proc/loadavg's first three fields), for
// the record of what else the cores were doing.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return "load " + strings.Join(f[:3], " ")
	}
	return "load unknown"
}

// parseCounts parses a comma-separated list of file counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-memory: bad file count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
