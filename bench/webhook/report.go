package main

import (
	"fmt"
	"runtime"
	"time"
)

func pct(base, d time.Duration) string {
	return fmt.Sprintf("%+.0f%%", 100*(float64(d)-float64(base))/float64(base))
}

func perPod(d time.Duration, n int) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)/float64(n))
}

func (b *e2e) report(results [][]result) {
	fmt.Printf("### Pod creation through kube-apiserver\n\n")
	fmt.Printf("%d pods/s for %ds per mode and round, %d rounds, the modes' order rotated each round, after a 1 s warm-up of each mode; "+
		"the pods are deleted after every run (outside the timing), so each run starts from the same store. "+
		"The load generator creates pods over protobuf, as the StatefulSet controller does. "+
		"The webhook runs in its own process (informers on datacenters and plan ConfigMaps only, as in the operator) on 127.0.0.1 over TLS with the operator's CA. "+
		"kube-apiserver, etcd, the webhook and the load generator share %d CPUs.\n\n", b.rate, b.seconds, b.rounds, runtime.NumCPU())
	fmt.Printf("Webhook server protocols: %s; pod informer in the webhook process: %v.\n\n", map[bool]string{false: "HTTP/1.1 only", true: "HTTP/1.1 and HTTP/2"}[b.http2], b.watchPods)
	fmt.Println("Modes: A and C send and store the same pod; B and D store the same pod (B sends it as the webhook mutates it). C − A and D − B are the cost of the admission call; D − A is what a restore costs a pod create.")
	fmt.Println()
	fmt.Println("| round | mode | pods | p50 ms | p99 ms | mean ms | p50 vs A | p99 vs A |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for r, rs := range results {
		a := summarize(append([]time.Duration(nil), rs[0].lat...))
		for i, res := range rs {
			s := summarize(append([]time.Duration(nil), res.lat...))
			fmt.Printf("| %d | %s %s | %d | %s | %s | %s | %s | %s |\n", r+1, modes[i].id, modes[i].name, s.n, ms(s.p50), ms(s.p99), ms(s.mean), pct(a.p50, s.p50), pct(a.p99, s.p99))
		}
	}
	fmt.Println()

	pooled := make([]result, len(modes))
	for _, rs := range results {
		for i, res := range rs {
			p := &pooled[i]
			p.lat = append(p.lat, res.lat...)
			p.handler = append(p.handler, res.handler...)
			p.mutated += res.mutated
			p.bytes = res.bytes
			p.window += res.window
			p.cpu = p.cpu.add(res.cpu)
			p.gcs += res.gcs
			p.gcPause += res.gcPause
			p.accepted = res.accepted
		}
	}
	st := make([]stats, len(modes))
	for i := range pooled {
		st[i] = summarize(pooled[i].lat)
	}
	fmt.Println("All rounds pooled:")
	fmt.Println()
	fmt.Println("| mode | pods | mutated | stored pod (JSON bytes) | p50 ms | p99 ms | max ms | mean ms |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for i, s := range st {
		fmt.Printf("| %s %s | %d | %d | %d | %s | %s | %s | %s |\n", modes[i].id, modes[i].name, s.n, pooled[i].mutated, pooled[i].bytes, ms(s.p50), ms(s.p99), ms(s.max), ms(s.mean))
	}
	fmt.Println()
	fmt.Println("| overhead | p50 | p99 | mean |")
	fmt.Println("|---|---|---|---|")
	for _, o := range []struct {
		name string
		base int
		with int
	}{{"admission call, same pod (C vs A)", 0, 2}, {"admission call, same stored pod (D vs B)", 1, 3}, {"restore injection as a user sees it (D vs A)", 0, 3}} {
		fmt.Printf("| %s | %s | %s | %s |\n", o.name, pct(st[o.base].p50, st[o.with].p50), pct(st[o.base].p99, st[o.with].p99), pct(st[o.base].mean, st[o.with].mean))
	}
	fmt.Println()

	fmt.Println("CPU time per pod created (all rounds; /proc, 10 ms ticks over each run) and how busy the machine was:")
	fmt.Println()
	fmt.Println("| mode | kube-apiserver ms | etcd ms | webhook ms | load generator ms | sum ms | machine busy |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for i, p := range pooled {
		n, c := len(p.lat), p.cpu
		sum := c.apiserver + c.etcd + c.webhook + c.loader
		busy := 0.0
		if c.total > 0 {
			busy = 100 * float64(c.busy) / float64(c.total)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %.0f%% |\n", modes[i].id, perPod(c.apiserver, n), perPod(c.etcd, n), perPod(c.webhook, n), perPod(c.loader, n), perPod(sum, n), busy)
	}
	fmt.Println()

	fmt.Println("Inside the webhook server (handler time, from the request to the written response):")
	fmt.Println()
	fmt.Println("| mode | admissions | p50 ms | p99 ms | max ms | GCs | GC pause ms |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for i, p := range pooled {
		if modes[i].namespace != hookNS {
			continue
		}
		h := summarize(p.handler)
		fmt.Printf("| %s | %d | %s | %s | %s | %d | %s |\n", modes[i].id, h.n, ms(h.p50), ms(h.p99), ms(h.max), p.gcs, ms(p.gcPause))
	}
	fmt.Printf("\nThe API server opened %d TLS connection(s) to the webhook in the whole run.\n\n", pooled[len(pooled)-1].accepted)
}
