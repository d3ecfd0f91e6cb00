package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// The restore benchmark (-restore-only): the node is backed up once, then each round runs
// the agent's restore (and, with -before, an earlier build's) and, right after it, the two
// floors of a restore on this filesystem (a local copy + sync, and a local copy + SHA-256 +
// sync), so that each ratio compares runs that shared the machine's load. With two more
// nodes of half the data each (-halves), it also restores the two halves one after the
// other: the per-byte cost of restoring several source nodes' data into one node. With
// four nodes of a quarter each (-fewer), it restores them as a datacenter of two nodes
// would (the init container's --add-source): two restores of two sources each, one after
// the other, each into one data directory.

// inodeCooldown is how long ext4 avoids reusing a deleted inode on a filesystem without
// a journal (30 s, 35 while its inode table block is dirty), and a little more.
const inodeCooldown = 40 * time.Second

// restoreBench is the restore benchmark's setup.
type restoreBench struct {
	bins  []bin // the agent builds, the newest last
	work  string
	nodes []*fakecassandra.Node // the whole data, then (-halves) two halves
	// quarters (-fewer) are four nodes of one cluster, a quarter of the data each, backed
	// up to one bucket; quarterKeys their manifests' keys.
	quarters    []*fakecassandra.Node
	quarterKeys []string
	env         []string
	total       int64
	gwPid       int
}

type bin struct{ label, path string }

// runRestoreOnly runs the restore benchmark for rounds rounds.
func runRestoreOnly(b restoreBench, rounds int) error {
	for i, n := range b.nodes {
		if _, err := agentBackup("agent backup", b.bins[len(b.bins)-1].path, "restore-bench-"+strconv.Itoa(i), "bench", 0, n, b.env); err != nil {
			return err
		}
	}
	if len(b.quarters) > 0 {
		var err error
		if b.quarterKeys, err = b.backupQuarters(); err != nil {
			return err
		}
	}
	var rows [][]result
	ratios := map[string][]float64{}
	for round := 1; round <= rounds; round++ {
		rs, err := b.round(round)
		if err != nil {
			return err
		}
		rows = append(rows, rs)
		floor := rs[len(rs)-1]
		for _, r := range rs {
			ratios[r.name] = append(ratios[r.name], b.perByte(r, floor))
		}
		fmt.Fprintf(os.Stderr, "round %d done (%s)\n", round, loadAvg())
		if round < rounds {
			// ext4 without a journal (this VM's disk) skips the inodes deleted in the last
			// 30 s one by one when it creates a file: the next round's first run, the
			// agent's, would pay for this round's removals. A restore goes to a fresh volume.
			time.Sleep(inodeCooldown)
		}
	}
	mib := float64(b.total) / (1 << 20)
	fmt.Printf("Restore only: %.1f MiB; versitygw posix with keep-alive on loopback; 16 connections; dirty pages flushed before each run; %s at the end.\n\n", mib, loadAvg())
	fmt.Println("| round | run | seconds | MiB/s | ÷ verifying floor, per byte | CPU s | versitygw CPU s |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|")
	for i, rs := range rows {
		floor := rs[len(rs)-1]
		for _, r := range rs {
			gw := ""
			if r.gwCPU > 0 {
				gw = fmt.Sprintf("%.1f", r.gwCPU.Seconds())
			}
			fmt.Printf("| %d | %s | %.2f | %.1f | %.2f× | %.1f | %s |\n", i+1, r.name, r.seconds, float64(b.bytesOf(r))/(1<<20)/r.seconds, b.perByte(r, floor), r.cpu.Seconds(), gw)
		}
	}
	fmt.Printf("\n÷ the verifying floor per byte, median (range) of %d rounds:", len(rows))
	for j, r := range rows[0][:len(rows[0])-1] {
		if j > 0 {
			fmt.Print(";")
		}
		fmt.Printf(" %s %s", r.name, spread(ratios[r.name]))
	}
	fmt.Println(".")
	return nil
}

// bytesOf returns what r restored or copied: the whole node's data unless r says otherwise.
func (b restoreBench) bytesOf(r result) int64 {
	if r.bytes > 0 {
		return r.bytes
	}
	return b.total
}

// perByte returns r's time per byte over the verifying floor's.
func (b restoreBench) perByte(r, floor result) float64 {
	return r.seconds / float64(b.bytesOf(r)) / (floor.seconds / float64(b.bytesOf(floor)))
}

// round runs each agent build's restore of the whole data (and of the two halves in turn),
// then the two floors, the verifying floor last; it checks what each restore wrote.
func (b restoreBench) round(round int) ([]result, error) {
	var out []result
	var dirs []string
	defer func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}()
	dir := func(name string) string {
		d := filepath.Join(b.work, fmt.Sprintf("%s-%d", name, round))
		dirs = append(dirs, d)
		return d
	}
	// The builds take turns at going first: a run that follows another finds the page
	// cache fuller (each run writes the whole data), and would pay for that every round.
	bins := slices.Clone(b.bins)
	if round%2 == 0 {
		slices.Reverse(bins)
	}
	// run times the restore c into to (profiled and traced when asked).
	run := func(name string, c *exec.Cmd, to string) (result, error) {
		base := fmt.Sprintf("%s-%d", filepath.Base(to), round)
		if profileDir != "" {
			c.Args = append(c.Args, "--cpuprofile", filepath.Join(profileDir, base+".pprof"))
		}
		if traceDir != "" {
			c.Args = append(c.Args, "--trace", filepath.Join(traceDir, base+".trace"))
		}
		syscall.Sync()
		gw := procCPU(b.gwPid)
		r, err := timed(name, c)
		if err != nil {
			return r, err
		}
		r.gwCPU = procCPU(b.gwPid) - gw
		return r, nil
	}
	restore := func(name string, bn bin, i int, to string) (result, error) {
		r, err := run(name, restoreCmd(bn.path, "restore-bench-"+strconv.Itoa(i), "bench", b.nodes[i], to, b.env), to)
		if err != nil {
			return r, err
		}
		got, _, err := dirSize(filepath.Join(to, "data"))
		if err == nil && i == 0 && got != b.total {
			err = fmt.Errorf("%s restored %d bytes of %d", name, got, b.total)
		}
		return r, err
	}
	for _, bn := range bins {
		name := "agent restore"
		if len(b.bins) > 1 {
			name += " (" + bn.label + ")"
		}
		r, err := restore(name, bn, 0, dir("restore-"+bn.label))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if len(b.nodes) == 1 {
			continue
		}
		// Two restores of half the data each, back to back: the bytes of the whole.
		halves := result{name: name + ", 2 half nodes in turn"}
		for i := 1; i <= 2; i++ {
			r, err := restore(name, bn, i, dir(fmt.Sprintf("restore-%s-half%d", bn.label, i)))
			if err != nil {
				return nil, err
			}
			halves.seconds, halves.cpu, halves.gwCPU = halves.seconds+r.seconds, halves.cpu+r.cpu, halves.gwCPU+r.gwCPU
		}
		out = append(out, halves)
	}
	for _, bn := range bins {
		if len(b.quarters) == 0 {
			break
		}
		name := "agent restore"
		if len(b.bins) > 1 {
			name += " (" + bn.label + ")"
		}
		r, err := b.fewer(name+", 4 → 2 nodes", bn, round, dir, run)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	src := b.nodes[0].DataDirs()[0]
	for _, f := range []struct {
		name, dir string
		hash      bool
	}{{"local copy + sync (floor)", "copy", false}, {verifyingFloor, "copyhash", true}} {
		syscall.Sync()
		start, self := time.Now(), selfCPU()
		if err := copyTree(src, dir(f.dir), 16, f.hash); err != nil {
			return nil, err
		}
		syscall.Sync()
		out = append(out, result{name: f.name, seconds: time.Since(start).Seconds(), cpu: selfCPU() - self})
	}
	return out, nil
}
