package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time (user and system, all threads) of a process, its command
// name and its parent's id, from /proc/<pid>/stat.
func procCPU(pid int) (cpu time.Duration, comm string, ppid int, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", 0, err
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return 0, "", 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	comm = string(data[open+1 : end])
	// After the name: state(3) ppid(4) … utime(14) stime(15).
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 13 {
		return 0, "", 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick, comm, ppid, nil
}

// children returns the ids of this process's children by command name.
func children() map[string]int {
	self := os.Getpid()
	out := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, comm, ppid, err := procCPU(pid); err == nil && ppid == self {
			out[comm] = pid
		}
	}
	return out
}

// machineCPU returns the machine's busy and total CPU time from /proc/stat.
func machineCPU() (busy, total time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest times are counted in user already
			break
		}
		total += time.Duration(n) * clockTick
		if i != 3 && i != 4 {
			busy += time.Duration(n) * clockTick
		}
	}
	return busy, total
}

// cpuSample is the CPU time of the processes that take part in a run.
type cpuSample struct {
	apiserver, etcd, webhook, loader time.Duration
	busy, total                      time.Duration
}

func (a cpuSample) sub(b cpuSample) cpuSample {
	return cpuSample{a.apiserver - b.apiserver, a.etcd - b.etcd, a.webhook - b.webhook, a.loader - b.loader, a.busy - b.busy, a.total - b.total}
}

func (a cpuSample) add(b cpuSample) cpuSample {
	return cpuSample{a.apiserver + b.apiserver, a.etcd + b.etcd, a.webhook + b.webhook, a.loader + b.loader, a.busy + b.busy, a.total + b.total}
}

// pids locates the processes a cpuSample reads.
type pids struct{ apiserver, etcd, webhook int }

func (p pids) sample() cpuSample {
	var s cpuSample
	s.apiserver, _, _, _ = procCPU(p.apiserver)
	s.etcd, _, _, _ = procCPU(p.etcd)
	s.webhook, _, _, _ = procCPU(p.webhook)
	s.loader, _, _, _ = procCPU(os.Getpid())
	s.busy, s.total = machineCPU()
	return s
}

// loadAverage returns the machine's 1, 5 and 15 minute load averages.
func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
