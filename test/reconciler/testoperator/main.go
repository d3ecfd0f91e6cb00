// Command testoperator is the operator process with one test controller on
// CassandraBackups, for the leader-election tests and the benchmark: its create handler
// marks each backup COMPLETED and Ready, naming the process that handled it.
package main

import (
	"context"
	"flag"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/signals"
)

// HandledBy prefixes the Ready message with the identity of the process that handled the backup.
const HandledBy = "handled by "

func main() {
	var cfg operator.Config
	cfg.BindFlags(flag.CommandLine)
	klog.InitFlags(flag.CommandLine)
	flag.Parse()
	klog.EnableContextualLogging(true)
	sctx, stop := signals.Context(context.Background())
	defer stop()
	ctx := klog.NewContext(sctx, klog.Background())
	if err := operator.Run(ctx, cfg, newMarker); err != nil {
		klog.FromContext(ctx).Error(err, "Operator stopped")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}

// newMarker builds the test controller.
func newMarker(d operator.Deps) (operator.Component, error) {
	opts := backup.ReconcilerOptions(d)
	opts.Name = "marker"
	opts.Handlers = []reconciler.Registration[*v1alpha1.CassandraBackup]{
		reconciler.OnCreate("mark", func(_ context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackup]) (reconciler.Result, error) {
			b := ev.Object
			b.Status.State = v1alpha1.BackupCompleted
			reconciler.SetCondition(&b.Status.Conditions, reconciler.Ready(true, "", HandledBy+d.Config.Identity, b.Generation))
			return reconciler.Result{}, nil
		}),
	}
	return reconciler.New(opts)
}
