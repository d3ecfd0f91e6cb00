// Command cassandra-backup-operator runs the controllers of CassandraBackups and of
// CassandraDataCenter restores.
package main

import (
	"context"
	"flag"
	"os"
	_ "time/tzdata" // the image has no zoneinfo of its own

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/signals"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

func main() {
	var cfg operator.Config
	cfg.BindFlags(flag.CommandLine)
	klog.InitFlags(flag.CommandLine)
	printVersion := flag.Bool("version", false, "Print the version, commit and Go version, and exit.")
	flag.Parse()
	if *printVersion {
		version.Print(os.Stdout, "cassandra-backup-operator")
		return
	}
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
