// Command kubectl-cassandra_backup is the kubectl plugin of cassandra-backup-operator:
// `kubectl cassandra-backup list|describe|watch|restore|completion`. Install it on PATH
// with `go install ./cmd/kubectl-cassandra_backup`.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cassbackup/cassandra-backup-operator/pkg/kubectlplugin"
	"github.com/cassbackup/cassandra-backup-operator/pkg/signals"
)

func main() {
	ctx, stop := signals.Context(context.Background())
	defer stop()
	cmd := kubectlplugin.NewCommand(kubectlplugin.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, nil)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
