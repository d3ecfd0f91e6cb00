package kubectlplugin

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
)

// verifyPoll is how often `verify` looks at the drill while it waits.
const verifyPoll = time.Second

type verifyFlags struct {
	sample  string
	noWait  bool
	timeout time.Duration
}

func newVerify(o *options) *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify BACKUP",
		Short: "Run a restore drill of a COMPLETED backup (a CassandraBackupVerification) and print its result",
		Long: `Creates a CassandraBackupVerification named <backup>-<UTC time> for the backup: the operator
runs a pod that downloads the backup's objects (or --sample of them) and checks them against the
manifests. The command waits for the result and prints it per node, with the keys of the objects
that failed; the exit status is 0 only when the drill COMPLETED. --no-wait prints the name and returns.`,
		Example:           "  kubectl cassandra-backup verify nightly-2026-11-30 --sample 10%",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.backupNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			return o.verify(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sample, "sample", "", "percentage of each node's objects to check, e.g. 10% (default: every object)")
	fl.BoolVar(&f.noWait, "no-wait", false, "create the verification and return")
	fl.DurationVar(&f.timeout, "timeout", time.Hour, "how long to wait for the result")
	o.addOutput(cmd)
	return cmd
}

func (o *options) verify(ctx context.Context, backup string, f *verifyFlags) error {
	cs, ns, err := o.newClient()
	if err != nil {
		return err
	}
	b, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(ctx, backup, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if b.Status.State != v1alpha1.BackupCompleted {
		return fmt.Errorf("backup %s is %s: only a COMPLETED backup can be verified", backup, orDash(string(b.Status.State)))
	}
	v := &v1alpha1.CassandraBackupVerification{
		ObjectMeta: metav1.ObjectMeta{Name: backup + "-" + o.now().UTC().Format("20060102-150405"), Namespace: ns},
		Spec:       v1alpha1.CassandraBackupVerificationSpec{BackupName: backup, Sample: f.sample},
	}
	v, err = cs.CassandraoperatorV1alpha1().CassandraBackupVerifications(ns).Create(ctx, v, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if f.noWait {
		if o.output != "" {
			setKind(v, "CassandraBackupVerification")
			return o.print(v)
		}
		_, err := fmt.Fprintf(o.streams.Out, "cassandrabackupverification/%s created; follow it with: kubectl get cbv %s -n %s -w\n", v.Name, v.Name, ns)
		return err
	}
	if o.output == "" {
		fmt.Fprintf(o.streams.Err, "cassandrabackupverification/%s created; waiting for its result\n", v.Name)
	}
	v, err = waitVerification(ctx, cs, ns, v.Name, f.timeout)
	if err != nil {
		return err
	}
	if o.output != "" {
		setKind(v, "CassandraBackupVerification")
		err = o.print(v)
	} else {
		err = o.verificationTable(v)
	}
	if err == nil && v.Status.State != v1alpha1.VerificationCompleted {
		err = fmt.Errorf("verification %s is %s: %s", v.Name, v.Status.State, v.Status.Message)
	}
	return err
}

// waitVerification polls the drill until it is COMPLETED or FAILED.
func waitVerification(ctx context.Context, cs versioned.Interface, ns, name string, timeout time.Duration) (*v1alpha1.CassandraBackupVerification, error) {
	var v *v1alpha1.CassandraBackupVerification
	err := wait.PollUntilContextTimeout(ctx, verifyPoll, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		v, err = cs.CassandraoperatorV1alpha1().CassandraBackupVerifications(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return v.Status.State == v1alpha1.VerificationCompleted || v.Status.State == v1alpha1.VerificationFailed, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for verification %s: %w", name, err)
	}
	return v, nil
}

// verificationTable prints a drill's result: a line, the nodes, the failures.
func (o *options) verificationTable(v *v1alpha1.CassandraBackupVerification) error {
	st := v.Status
	fmt.Fprintf(o.streams.Out, "Verification %s of backup %s: %s\n%s\n", v.Name, v.Spec.BackupName, st.State, st.Message)
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tHOST ID\tVERIFIED\tOF\tBYTES\tFAILURES")
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%d\n", n.Node, orDash(n.HostID), n.ObjectsVerified, n.ObjectsTotal, HumanBytes(n.BytesVerified), n.FailureCount)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, n := range st.Nodes {
		for _, f := range n.Failures {
			fmt.Fprintf(o.streams.Out, "  %s: %s: %s\n", n.Node, f.Key, f.Reason)
		}
		if more := n.FailureCount - int64(len(n.Failures)); more > 0 {
			fmt.Fprintf(o.streams.Out, "  %s: %d more failures (the drill pod's log lists them)\n", n.Node, more)
		}
	}
	return nil
}

// lastVerification prints the backup's newest restore drill, when it has one (and the
// cluster has the kind): one list call.
func (o *options) lastVerification(ctx context.Context, cs versioned.Interface, b *v1alpha1.CassandraBackup) error {
	list, err := cs.CassandraoperatorV1alpha1().CassandraBackupVerifications(b.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil // an older install without drills: nothing to show
	}
	var last *v1alpha1.CassandraBackupVerification
	for i := range list.Items {
		v := &list.Items[i]
		if v.Spec.BackupName == b.Name && (last == nil || startOf(v).After(startOf(last))) {
			last = v
		}
	}
	if last == nil {
		return nil
	}
	_, err = fmt.Fprintf(o.streams.Out, "Last verification: %s %s, %d objects verified, %d failures (%s)\n",
		last.Name, orDash(string(last.Status.State)), last.Status.ObjectsVerified, last.Status.FailureCount, when(o.now(), startTime(last)))
	return err
}

// startOf is when a drill's newest run started, else when it was created.
func startOf(v *v1alpha1.CassandraBackupVerification) time.Time { return startTime(v).Time }

func startTime(v *v1alpha1.CassandraBackupVerification) *metav1.Time {
	if v.Status.StartTime != nil {
		return v.Status.StartTime
	}
	return &v.CreationTimestamp
}
