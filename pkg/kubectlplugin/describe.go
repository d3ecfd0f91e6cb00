package kubectlplugin

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// barWidth is the width of a node's progress bar on a terminal.
const barWidth = 20

func newDescribe(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "describe NAME",
		Short:             "Show a backup with a per-node table (progress bars on a terminal)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.backupNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, ns, err := o.newClient()
			if err != nil {
				return err
			}
			b, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			if o.output != "" {
				setKind(b, "CassandraBackup")
				return o.print(b)
			}
			if err := o.describe(o.streams.Out, b); err != nil {
				return err
			}
			return o.lastVerification(cmd.Context(), cs, b)
		},
	}
	o.addOutput(cmd)
	return cmd
}

// describe writes the backup's summary, conditions and per-node table. On a terminal the
// PROGRESS column is a bar; elsewhere it is a percentage, so logs and golden files stay
// plain text.
func (o *options) describe(out io.Writer, b *v1alpha1.CassandraBackup) error {
	now := o.now()
	done, total := totals(b)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(w, "%s:\t%s\n", name, value) }
	field("Name", b.Name)
	field("Namespace", b.Namespace)
	field("Cluster", b.Spec.Cluster)
	field("Datacenter", fmt.Sprintf("%s (CassandraDataCenter %s)", b.Spec.Datacenter, b.Spec.CDC))
	field("Location", location(b))
	field("Snapshot tag", b.Spec.SnapshotTag)
	if b.Spec.JustCreate {
		field("Imported", "yes (justCreate: the operator only looked the backup up)")
	}
	field("State", orDash(string(b.Status.State)))
	field("Progress", fmt.Sprintf("%s (%s of %s)", Percent(done, total), HumanBytes(done), HumanBytes(total)))
	field("Rate", orDash(b.Status.Rate))
	field("ETA", orDash(b.Status.ETA))
	field("Started", when(now, b.Status.StartTime))
	field("Completed", when(now, b.Status.CompletionTime))
	if err := w.Flush(); err != nil {
		return err
	}
	if len(b.Status.Conditions) > 0 {
		fmt.Fprintln(out, "Conditions:")
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  TYPE\tSTATUS\tREASON\tMESSAGE")
		for _, c := range b.Status.Conditions {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, orDash(c.Reason), orDash(c.Message))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "Nodes:")
	if len(b.Status.Nodes) == 0 {
		_, err := fmt.Fprintln(out, "  (none yet)")
		return err
	}
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  NODE\tRACK\tSTATE\tPROGRESS\tUPLOADED\tTOTAL\tRATE\tETA\tFILES\tSKIPPED\tATTEMPTS\tMESSAGE")
	for _, n := range b.Status.Nodes {
		progress := Percent(n.BytesUploaded, n.BytesTotal)
		if o.terminal {
			progress = Bar(n.BytesUploaded, n.BytesTotal, barWidth) + " " + progress
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", n.Node, orDash(n.Rack), orDash(string(n.State)), progress,
			HumanBytes(n.BytesUploaded), HumanBytes(n.BytesTotal), orDash(rateString(n.BytesPerSecond)), orDash(n.ETA), n.FilesTotal, n.FilesSkipped,
			strconv.Itoa(int(n.Attempts)), orDash(n.Message))
	}
	return w.Flush()
}

// when prints a timestamp in UTC with its age, or "-".
func when(now time.Time, t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), Age(now, t.Time))
}
