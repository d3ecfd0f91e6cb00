// Command cassandra-backup-operator runs the controllers of CassandraBackups and of
// CassandraDataCenter restores.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	_ "time/tzdata" // the image has no zoneinfo of its own

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/logging"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/signals"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

func main() {
	var cfg operator.Config
	cfg.BindFlags(flag.CommandLine)
	logs := logging.AddFlags(flag.CommandLine)
	printVersion := flag.Bool("version", false, "Print the version, commit and Go version, and exit.")
	flag.Parse()
	if *printVersion {
		version.Print(os.Stdout, "cassandra-backup-operator")
		return
	}
	if err := logs.Apply(); err != nil {
		fmt.Fprintln(os.Stderr, "cassandra-backup-operator:", err)
		os.Exit(2)
	}

	sctx, stop := signals.Context(context.Background())
	defer stop()
	ctx := klog.NewContext(sctx, klog.Background())
	if err := operator.Run(ctx, cfg, components...); err != nil {
		klog.FromContext(ctx).Error(err, "Operator stopped")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}
