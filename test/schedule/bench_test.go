package schedule_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
)

// BenchmarkSchedules100x30 measures the schedule controller at 100 hourly schedules that
// hold 30 COMPLETED backups each (3,000 CassandraBackups), over the real API server: one
// slot's runs (100 backups created) and their expiry once they complete (100 deleted).
// It reports the operator's API writes per run, the time from the slot to the last run
// created and to the last expiry, and the test process's RSS (the controller, its
// informers and the test's clients).
func BenchmarkSchedules100x30(b *testing.B) {
	const schedules, retained = 100, 30
	for range b.N {
		e := newEnv(b)
		e.patience = 2 * time.Minute
		ctx := context.Background()
		// The fake hour starts after the real one ends: the schedules' creation times come
		// from the API server's real clock, and a schedule never runs a slot due before it
		// was created. With the current real hour, a set-up that crossed its end left the
		// schedules created after that with no run in the measured slot (the flake). Their
		// newest run is at the fake hour, so that no schedule has a slot to catch up on.
		hour := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		e.clock.SetTime(hour.Add(time.Minute))         // the set-up stays within this hour
		slot0 := hour.Add(-(retained - 1) * time.Hour) // the newest retained run is this hour's: no catch-up run
		parallel(schedules, func(i int) {
			name := fmt.Sprintf("s%03d", i)
			s := newSchedule(name, "0 * * * *", &v1alpha1.Retention{KeepLast: retained})
			if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
			for h := range retained {
				slot := slot0.Add(time.Duration(h) * time.Hour)
				run := &v1alpha1.CassandraBackup{
					ObjectMeta: metav1.ObjectMeta{Name: schedule.RunName(name, slot), Labels: map[string]string{schedule.LabelSchedule: name},
						Annotations: map[string]string{schedule.AnnotationSlot: slot.Format(time.RFC3339)}},
					Spec: v1alpha1.CassandraBackupSpec{CDC: "c", Cluster: "c", Datacenter: "d", StorageLocation: "s3://cassandra-bucket", SnapshotTag: schedule.RunName(name, slot)},
				}
				got, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(ctx, run, metav1.CreateOptions{})
				if err != nil {
					b.Error(err)
					return
				}
				got.Status.State = v1alpha1.BackupCompleted
				if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if b.Failed() {
			return
		}
		rssBefore := rss("VmRSS")
		e.start(schedule.Options{PollInterval: 10 * time.Minute})
		all := func(cond func(*v1alpha1.CassandraBackupSchedule) bool) func() bool {
			return func() bool {
				list, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).List(ctx, metav1.ListOptions{})
				if err != nil || len(list.Items) != schedules {
					return false
				}
				for i := range list.Items {
					if !cond(&list.Items[i]) {
						if os.Getenv("SCHEDULE_BENCH_DEBUG") != "" {
							fmt.Printf("%s (created %s): %+v\n", list.Items[i].Name, list.Items[i].CreationTimestamp.UTC().Format(time.RFC3339), list.Items[i].Status)
						}
						return false
					}
				}
				return true
			}
		}
		limit := hour.Add(59 * time.Minute)
		e.until(limit, "every schedule observed", all(func(s *v1alpha1.CassandraBackupSchedule) bool { return s.Status.Completed == retained }))

		slot := hour.Add(time.Hour)
		e.step = 100 * time.Millisecond // from here on, time moves slowly: the measurements are real time
		e.writes.Store(0)
		start := time.Now()
		e.clock.SetTime(slot)
		e.until(slot.Add(50*time.Minute), "100 runs created", all(func(s *v1alpha1.CassandraBackupSchedule) bool {
			return s.Status.LastScheduleTime != nil && s.Status.LastScheduleTime.Time.Equal(slot)
		}))
		created := time.Since(start)
		runWrites := e.writes.Load()

		parallel(schedules, func(i int) { e.finish(schedule.RunName(fmt.Sprintf("s%03d", i), slot), v1alpha1.BackupCompleted) })
		e.writes.Store(0)
		start = time.Now()
		e.clock.SetTime(slot.Add(51 * time.Minute))
		e.until(slot.Add(59*time.Minute), "100 backups expired", all(func(s *v1alpha1.CassandraBackupSchedule) bool { return s.Status.Expired == 1 }))
		expired := time.Since(start)
		expireWrites := e.writes.Load()

		b.ReportMetric(float64(runWrites)/schedules, "writes/run")
		b.ReportMetric(float64(expireWrites)/schedules, "writes/expiry")
		b.ReportMetric(float64(created.Milliseconds()), "ms-to-100-runs")
		b.ReportMetric(float64(expired.Milliseconds()), "ms-to-100-expiries")
		b.Logf("\n| schedules × backups | writes per run | writes per expiry | slot → 100 runs | 100 completions → 100 expiries | RSS before the controller | RSS after | peak RSS |\n|---|---|---|---|---|---|---|---|\n| %d × %d | %.1f | %.1f | %s | %s | %s | %s | %s |",
			schedules, retained, float64(runWrites)/schedules, float64(expireWrites)/schedules,
			created.Round(time.Millisecond), expired.Round(time.Millisecond), rssBefore, rss("VmRSS"), rss("VmHWM"))
	}
}

func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

func rss(field string) string {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			return strings.TrimSpace(strings.TrimPrefix(line, field+":"))
		}
	}
	return "?"
}
