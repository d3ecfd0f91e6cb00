package kubectlplugin

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
)

// clearScreen moves the cursor home and clears the terminal before each redraw.
const clearScreen = "\x1b[H\x1b[2J"

func newWatch(o *options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:               "watch NAME",
		Short:             "Follow a backup live until it completes, fails or is cancelled",
		Long:              "On a terminal the description is redrawn in place with progress bars; otherwise one line is printed per change of the backup or of a node. The exit status is 0 when the backup completes and 1 otherwise.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.backupNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, ns, err := o.newClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return o.watch(ctx, cs, ns, args[0])
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: wait until the backup ends)")
	return cmd
}

// watch follows the backup through an informer on it alone, so lost connections and
// expired resource versions are recovered by re-listing.
func (o *options) watch(ctx context.Context, cs versioned.Interface, ns, name string) error {
	backups := cs.CassandraoperatorV1alpha1().CassandraBackups(ns)
	if _, err := backups.Get(ctx, name, metav1.GetOptions{}); err != nil {
		return err
	}
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = byName
			return backups.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return backups.Watch(ctx, opts)
		},
	}
	var last *v1alpha1.CassandraBackup
	ev, err := watchtools.UntilWithSync(ctx, lw, &v1alpha1.CassandraBackup{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("backup %s/%s was deleted", ns, name)
		}
		b, ok := ev.Object.(*v1alpha1.CassandraBackup)
		if !ok {
			return false, nil
		}
		if err := o.render(last, b); err != nil {
			return false, err
		}
		last = b
		return ended(b.Status.State), nil
	})
	if err != nil {
		return err
	}
	b := ev.Object.(*v1alpha1.CassandraBackup)
	if b.Status.State != v1alpha1.BackupCompleted {
		msg := ""
		if c := meta.FindStatusCondition(b.Status.Conditions, "Ready"); c != nil && c.Message != "" {
			msg = ": " + c.Message
		}
		return fmt.Errorf("backup %s/%s is %s%s", ns, name, b.Status.State, msg)
	}
	return nil
}

// render redraws the description on a terminal, and elsewhere prints a line for the
// backup and for each node whose state or progress changed since prev.
func (o *options) render(prev, b *v1alpha1.CassandraBackup) error {
	if o.terminal {
		var buf bytes.Buffer
		buf.WriteString(clearScreen)
		if err := o.describe(&buf, b); err != nil {
			return err
		}
		_, err := o.streams.Out.Write(buf.Bytes())
		return err
	}
	stamp := o.now().UTC().Format(time.RFC3339)
	done, total := totals(b)
	if prev == nil || prev.Status.State != b.Status.State || prev.Status.Progress != b.Status.Progress {
		fmt.Fprintf(o.streams.Out, "%s backup %s %s %s (%s of %s)%s\n", stamp, b.Name, orDash(string(b.Status.State)),
			Percent(done, total), HumanBytes(done), HumanBytes(total), rateETA(b.Status.Rate, b.Status.ETA))
	}
	before := map[string]v1alpha1.NodeBackupStatus{}
	if prev != nil {
		for _, n := range prev.Status.Nodes {
			before[n.Node] = n
		}
	}
	for _, n := range b.Status.Nodes {
		p, seen := before[n.Node]
		if seen && p.State == n.State && p.BytesUploaded == n.BytesUploaded && p.BytesTotal == n.BytesTotal && p.Message == n.Message {
			continue
		}
		line := fmt.Sprintf("%s node %s %s %s (%s of %s)%s", stamp, n.Node, orDash(string(n.State)),
			Percent(n.BytesUploaded, n.BytesTotal), HumanBytes(n.BytesUploaded), HumanBytes(n.BytesTotal),
			rateETA(rateString(n.BytesPerSecond), n.ETA))
		if n.Message != "" {
			line += ": " + n.Message
		}
		fmt.Fprintln(o.streams.Out, line)
	}
	return nil
}

// rateETA is ", 1.5 MiB/s, ETA 3m20s" with what is known, "" when nothing is.
func rateETA(rate, eta string) string {
	s := ""
	if rate != "" {
		s += ", " + rate
	}
	if eta != "" {
		s += ", ETA " + eta
	}
	return s
}

// ended reports whether a backup state is final.
func ended(s v1alpha1.BackupState) bool {
	return s == v1alpha1.BackupCompleted || s == v1alpha1.BackupFailed || s == v1alpha1.BackupCancelled
}
