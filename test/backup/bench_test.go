package backup_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// rssKiB returns a /proc/self/status field (VmRSS, VmHWM) in KiB.
func rssKiB(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkBackups200 creates 200 CassandraBackups (BENCH_BACKUPS overrides) of a 3-node
// datacenter whose agents (real agents over fake nodes, small data) answer fast, and
// reports the time until all are COMPLETED, the API writes per backup and the RSS of the
// test process before the operator started and at its peak (the agents and fake nodes
// run in the same process, so the difference is the operator's share).
// Run: go test ./test/backup -run '^$' -bench Backups200 -benchtime 1x
func BenchmarkBackups200(b *testing.B) {
	count := 200
	if v, err := strconv.Atoi(os.Getenv("BENCH_BACKUPS")); err == nil && v > 0 {
		count = v
	}
	for it := 0; it < b.N; it++ {
		e := newEnv(b, s3Server(b))
		for i, rack := range []string{"a", "b", "c"} {
			e.startNode("bench-"+rack+"-0", "dc1", rack, uint64(100+i), 20_000)
		}
		e.secret(secretName, nil)
		runtimeRSS := rssKiB("VmRSS")
		start := time.Now()
		e.startOperator(backup.Options{PollInterval: time.Second})
		for i := 0; i < count; i++ {
			e.create(fmt.Sprintf("bench-%03d", i), spec("dc1", fmt.Sprintf("bench-%03d", i)))
		}
		end := start.Add(max(time.Duration(count)*3*time.Second, time.Minute))
		var peak int64
		for {
			list, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).List(e.ctx(), metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			done, failed := 0, 0
			for _, x := range list.Items {
				switch x.Status.State {
				case v1alpha1.BackupCompleted:
					done++
				case v1alpha1.BackupFailed:
					failed++
				}
			}
			peak = max(peak, rssKiB("VmRSS"))
			if failed > 0 {
				b.Fatalf("%d backups FAILED", failed)
			}
			if done == count {
				break
			}
			if time.Now().After(end) {
				st, _ := json.Marshal(list.Items[0].Status)
				b.Fatalf("%d of %d backups COMPLETED after %s; the first: %s", done, count, time.Since(start), st)
			}
			time.Sleep(200 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.ReportMetric(elapsed.Seconds(), "s-to-all-completed")
		b.ReportMetric(float64(e.writes.Load())/float64(count), "API-writes/backup")
		b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(runtimeRSS)/1024, "RSS-before-MiB")
		b.Logf("%d backups x 3 nodes: all COMPLETED in %s; %d API writes (%.1f per backup); RSS %d MiB before the operator started, peak %d MiB (VmHWM %d MiB)",
			count, elapsed.Round(time.Millisecond), e.writes.Load(), float64(e.writes.Load())/float64(count), runtimeRSS/1024, peak/1024, rssKiB("VmHWM")/1024)
	}
}
