package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// The restore benchmark (-restore-only): the node is backed up once, then each round runs
// the agent's restore and, right after it, the two floors of a restore on this
// filesystem (a local copy + sync, and a local copy + SHA-256 + sync), so that each
// ratio compares runs that shared the machine's load. With a second node of half the data
// each (-halves), it also restores the two halves one after the other, the per-byte cost
// of restoring several source nodes' data into one node.

// inodeCooldown is how long ext4 avoids reusing a deleted inode on a filesystem without
// a journal (30 s, 35 while its inode table block is dirty), and a little more.
const inodeCooldown = 40 * time.Second

// restoreRound is one round's results.
type restoreRound struct {
	agent, halves, copyFloor, hashFloor result
}

// runRestoreOnly runs the restore benchmark: rounds rounds over the data of nodes (one
// node, or with halves two nodes of half the data each).
func runRestoreOnly(agentBin, work string, nodes []*fakecassandra.Node, env []string, total int64, rounds int) error {
	for i, n := range nodes {
		if _, err := agentBackup("agent backup", agentBin, "restore-bench-"+strconv.Itoa(i), "bench", false, n, env); err != nil {
			return err
		}
	}
	var rs []restoreRound
	for round := 1; round <= rounds; round++ {
		r, err := restoreOnlyRound(round, agentBin, work, nodes, env, total)
		if err != nil {
			return err
		}
		rs = append(rs, r)
		fmt.Fprintf(os.Stderr, "round %d: restore %.2f s, floor %.2f s (%s)\n", round, r.agent.seconds, r.hashFloor.seconds, loadAvg())
		if round < rounds {
			// ext4 without a journal (this VM's disk) skips the inodes deleted in the last
			// 30 s one by one when it creates a file: the next round's first run, the
			// agent's, would pay for this round's removals. A restore goes to a fresh volume.
			time.Sleep(inodeCooldown)
		}
	}
	mib := float64(total) / (1 << 20)
	fmt.Printf("Restore only: %.1f MiB, %d source node(s); versitygw posix with keep-alive on loopback; 16 connections; dirty pages flushed before each run; %s at the end.\n\n", mib, len(nodes), loadAvg())
	fmt.Println("| round | run | seconds | MiB/s | ÷ verifying floor | CPU s |")
	fmt.Println("|---:|---|---:|---:|---:|---:|")
	var ratios, halfRatios []float64
	for i, r := range rs {
		rows := []result{r.agent}
		if len(nodes) > 1 {
			rows = append(rows, r.halves)
		}
		rows = append(rows, r.copyFloor, r.hashFloor)
		for _, x := range rows {
			fmt.Printf("| %d | %s | %.2f | %.1f | %.2f× | %.1f |\n", i+1, x.name, x.seconds, mib/x.seconds, x.seconds/r.hashFloor.seconds, x.cpu.Seconds())
		}
		ratios = append(ratios, r.agent.seconds/r.hashFloor.seconds)
		if len(nodes) > 1 {
			halfRatios = append(halfRatios, r.halves.seconds/r.hashFloor.seconds)
		}
	}
	fmt.Printf("\nAgent restore ÷ the verifying floor, median (range) of %d rounds: %s", len(rs), spread(ratios))
	if len(nodes) > 1 {
		fmt.Printf("; two half nodes one after the other: %s", spread(halfRatios))
	}
	fmt.Println(".")
	return nil
}

// restoreOnlyRound restores node 0's backup whole (with one node) or the first
// node's and then the second node's (with two: node 0 holds the whole data, nodes 1 and 2
// half each), then copies the same data locally twice, checking what the agent restored.
func restoreOnlyRound(round int, agentBin, work string, nodes []*fakecassandra.Node, env []string, total int64) (restoreRound, error) {
	var out restoreRound
	dir := func(name string) string { return filepath.Join(work, fmt.Sprintf("%s-%d", name, round)) }
	defer func() {
		for _, d := range []string{"restore-agent", "restore-half-0", "restore-half-1", "copy", "copyhash"} {
			os.RemoveAll(dir(d))
		}
	}()
	restore := func(name string, i int, to string) (result, error) {
		c := restoreCmd(agentBin, "restore-bench-"+strconv.Itoa(i), "bench", nodes[i], to, env)
		if profileDir != "" {
			c.Args = append(c.Args, "--cpuprofile", filepath.Join(profileDir, fmt.Sprintf("%s-%d.pprof", filepath.Base(to), round)))
		}
		if traceDir != "" {
			c.Args = append(c.Args, "--trace", filepath.Join(traceDir, fmt.Sprintf("%s-%d.trace", filepath.Base(to), round)))
		}
		syscall.Sync()
		r, err := timed(name, c)
		if err != nil {
			return r, err
		}
		got, _, err := dirSize(filepath.Join(to, "data"))
		if err == nil && i == 0 && got != total {
			err = fmt.Errorf("%s restored %d bytes of %d", name, got, total)
		}
		return r, err
	}
	var err error
	if out.agent, err = restore("agent restore", 0, dir("restore-agent")); err != nil {
		return out, err
	}
	if len(nodes) > 1 {
		// Two restores of half the data each, back to back: the bytes of the whole.
		var secs float64
		var cpu time.Duration
		for i := 1; i <= 2; i++ {
			r, err := restore("agent restore, half", i, dir(fmt.Sprintf("restore-half-%d", i-1)))
			if err != nil {
				return out, err
			}
			secs, cpu = secs+r.seconds, cpu+r.cpu
		}
		out.halves = result{name: "agent restore, 2 half nodes in turn", seconds: secs, cpu: cpu}
	}
	src := nodes[0].DataDirs()[0]
	for _, f := range []struct {
		to   *result
		name string
		hash bool
	}{{&out.copyFloor, "local copy + sync (floor)", false}, {&out.hashFloor, verifyingFloor, true}} {
		syscall.Sync()
		start, self := time.Now(), selfCPU()
		if err := copyTree(src, dir(map[bool]string{false: "copy", true: "copyhash"}[f.hash]), 16, f.hash); err != nil {
			return out, err
		}
		syscall.Sync()
		*f.to = result{name: f.name, seconds: time.Since(start).Seconds(), cpu: selfCPU() - self}
	}
	return out, nil
}
