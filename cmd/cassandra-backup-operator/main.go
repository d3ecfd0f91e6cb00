// Command cassandra-backup-operator runs the controllers of CassandraBackups and of
// CassandraDataCenter restores.
package main

import (
	"context"
	"flag"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/signals"
)

func main() {
	var cfg operator.Config
	cfg.BindFlags(flag.CommandLine)
	klog.InitFlags(flag.CommandLine)
	flag.Parse()
	klog.EnableContextualLogging(true)

	sctx, stop := signals.Context(context.Background())
	defer stop()
	ctx := klog.NewContext(sctx, klog.Background())
	if err := operator.Run(ctx, cfg, components...); err != nil {
		klog.FromContext(ctx).Error(err, "Operator stopped")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}
