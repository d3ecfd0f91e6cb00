package main

import (
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// The fewer-nodes restore (-fewer): four source nodes restored by a datacenter of two,
// each target's init container restoring two sources into its one data directory
// (--add-source), their clashing generations renumbered.

// fewerBucket holds the four quarter nodes' backups: one cluster, one location.
const fewerBucket = "restore-bench-fewer"

// backupQuarters backs the quarter nodes up to fewerBucket and returns their manifests'
// keys, read from versitygw's directory (an object is a file under <bucket>/<key>).
func (b restoreBench) backupQuarters() ([]string, error) {
	var keys []string
	for i, n := range b.quarters {
		if _, err := agentBackup(fmt.Sprintf("agent backup of quarter %d", i), b.bins[len(b.bins)-1].path, fewerBucket, "bench", 0, n, b.env); err != nil {
			return nil, err
		}
		bucketDir := filepath.Join(b.work, "s3", fewerBucket)
		m, err := filepath.Glob(filepath.Join(bucketDir, n.ClusterName(), n.Datacenter(), n.HostID(), "manifests", "*.json"))
		if err != nil || len(m) != 1 {
			return nil, fmt.Errorf("quarter %d: want one manifest, found %v (%v)", i, m, err)
		}
		key, _ := filepath.Rel(bucketDir, m[0])
		keys = append(keys, filepath.ToSlash(key))
	}
	return keys, nil
}

// fewer restores the four quarters into two data directories, two sources each, one
// restore after the other, and checks that every source byte arrived.
func (b restoreBench) fewer(name string, bn bin, round int, dir func(string) string, run func(string, *exec.Cmd, string) (result, error)) (result, error) {
	sum := result{name: name}
	var want int64
	for t := range 2 {
		first, second := 2*t, 2*t+1
		to := dir(fmt.Sprintf("restore-%s-fewer%d", bn.label, t))
		c := restoreCmd(bn.path, fewerBucket, "bench", b.quarters[first], to, b.env)
		c.Args = append(c.Args, "--manifest-key", b.quarterKeys[first],
			"--add-source="+b.quarters[second].HostID()+":"+b.quarterKeys[second])
		r, err := run(name, c, to)
		if err != nil {
			return r, err
		}
		got, _, err := dirSize(filepath.Join(to, "data"))
		if err != nil {
			return r, err
		}
		srcs := 0
		for _, n := range []*fakecassandra.Node{b.quarters[first], b.quarters[second]} {
			s, _, err := dirSize(n.DataDirs()[0])
			if err != nil {
				return r, err
			}
			srcs += int(s)
		}
		if got != int64(srcs) {
			return r, fmt.Errorf("%s: target %d restored %d bytes of its sources' %d", name, t, got, srcs)
		}
		want += got
		sum.seconds, sum.cpu, sum.gwCPU = sum.seconds+r.seconds, sum.cpu+r.cpu, sum.gwCPU+r.gwCPU
	}
	sum.bytes = want
	return sum, nil
}
