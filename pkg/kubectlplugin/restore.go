package kubectlplugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	typed "github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/typed/cassandraoperator/v1alpha1"
)

// restoreFlags build the CassandraDataCenter of a whole-datacenter restore.
type restoreFlags struct {
	datacenter string
	cluster    string
	dcName     string
	nodes      int32
	racks      []string
	secret     string
	dryRun     bool
	// tables, truncate and name make the form that restores tables into a running
	// datacenter (a CassandraRestore; tablerestore.go).
	tables   []string
	truncate bool
	name     string
	cdc      string
}

func newRestore(o *options) *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use:   "restore BACKUP (--datacenter NAME | --table KS.TABLE)",
		Short: "Restore a COMPLETED backup into a new CassandraDataCenter, or tables into a running one",
		Long: `With --datacenter, creates a CassandraDataCenter whose spec.restore names the backup: every
pod of that datacenter created afterwards restores its node's data before Cassandra starts.
With --table (repeatable; a keyspace alone restores all its tables), creates a
CassandraRestore that restores those tables into the running datacenter the backup was
taken from (or --cdc), merged with the live data, or replacing it with --truncate.
The command says what it will do first; --dry-run sends the object to the API server's dry
run (which applies the CRD's validation) and changes nothing.`,
		Example: "  kubectl cassandra-backup restore nightly-2026-11-30 --datacenter dc1-restored --nodes 3 --racks r1,r2,r3 --dry-run -o yaml\n" +
			"  kubectl cassandra-backup restore nightly-2026-11-30 --table shop.orders --truncate --dry-run",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.backupNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			api, ns, b, err := o.completedBackup(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if len(f.tables) > 0 {
				return o.restoreTables(cmd.Context(), api, ns, b, f)
			}
			return o.restore(cmd.Context(), api, ns, b, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.datacenter, "datacenter", "", "name of the CassandraDataCenter to create (required)")
	fl.StringVar(&f.cluster, "cluster", "", "Cassandra cluster name of the new datacenter (another name than the backup's clones the cluster)")
	fl.StringVar(&f.dcName, "dc-name", "", "Cassandra datacenter name (spec.datacenter)")
	fl.Int32Var(&f.nodes, "nodes", 0, "number of nodes (spec.nodes; 0 leaves it unset)")
	fl.StringSliceVar(&f.racks, "racks", nil, "rack names, comma-separated (spec.racks)")
	fl.StringVar(&f.secret, "secret", "", "Secret with the storage credentials (default: the backup's)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "validate on the server and print, without creating anything")
	fl.StringSliceVar(&f.tables, "table", nil, "keyspace.table (or keyspace) to restore into the running datacenter; repeatable")
	fl.BoolVar(&f.truncate, "truncate", false, "with --table: truncate the tables first, so they equal the backup (default: merge)")
	fl.StringVar(&f.name, "name", "", "with --table: name of the CassandraRestore (default: BACKUP-restore-<time>)")
	fl.StringVar(&f.cdc, "cdc", "", "with --table: the CassandraDataCenter to restore into (default: the backup's datacenter)")
	cmd.MarkFlagsOneRequired("datacenter", "table")
	cmd.MarkFlagsMutuallyExclusive("datacenter", "table")
	o.addOutput(cmd)
	return cmd
}

// completedBackup returns the client, the namespace and the named backup, which must be
// COMPLETED: what both forms of restore start from.
func (o *options) completedBackup(ctx context.Context, backup string) (typed.CassandraoperatorV1alpha1Interface, string, *v1alpha1.CassandraBackup, error) {
	cs, ns, err := o.newClient()
	if err != nil {
		return nil, "", nil, err
	}
	api := cs.CassandraoperatorV1alpha1()
	b, err := api.CassandraBackups(ns).Get(ctx, backup, metav1.GetOptions{})
	if err != nil {
		return nil, "", nil, err
	}
	if b.Status.State != v1alpha1.BackupCompleted {
		return nil, "", nil, fmt.Errorf("backup %s/%s is %s: a restore needs a COMPLETED backup", ns, backup, orDash(string(b.Status.State)))
	}
	return api, ns, b, nil
}

func (o *options) restore(ctx context.Context, api typed.CassandraoperatorV1alpha1Interface, ns string, b *v1alpha1.CassandraBackup, f *restoreFlags) error {
	backup := b.Name
	switch _, err := api.CassandraDataCenters(ns).Get(ctx, f.datacenter, metav1.GetOptions{}); {
	case err == nil:
		return fmt.Errorf("CassandraDataCenter %s/%s exists: a whole-datacenter restore creates a new one; choose another --datacenter", ns, f.datacenter)
	case !apierrors.IsNotFound(err):
		return err
	}
	dc := &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: f.datacenter, Namespace: ns},
		Spec: v1alpha1.CassandraDataCenterSpec{
			Cluster: f.cluster, Datacenter: f.dcName,
			Restore: &v1alpha1.RestoreSpec{BackupName: backup, Secret: f.secret},
		},
	}
	if f.nodes > 0 {
		dc.Spec.Nodes = &f.nodes
	}
	for _, r := range f.racks {
		if r = strings.TrimSpace(r); r != "" {
			dc.Spec.Racks = append(dc.Spec.Racks, v1alpha1.Rack{Name: r})
		}
	}
	o.plan(b, dc, f.dryRun)
	opts := metav1.CreateOptions{}
	if f.dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	created, err := api.CassandraDataCenters(ns).Create(ctx, dc, opts)
	if err != nil {
		return err
	}
	return o.created(created, "CassandraDataCenter", "cdc", f.datacenter, ns, f.dryRun)
}

// created reports an object the restore command created (or validated, with dryRun):
// printed with -o, else one line that says how to follow it.
func (o *options) created(obj runtime.Object, kind, short, name, ns string, dryRun bool) error {
	if o.output != "" {
		setKind(obj, kind)
		return o.print(obj)
	}
	var err error
	if dryRun {
		_, err = fmt.Fprintf(o.streams.Out, "%s/%s valid (server dry run): nothing created\n", strings.ToLower(kind), name)
	} else {
		_, err = fmt.Fprintf(o.streams.Out, "%s/%s created; follow it with: kubectl get %s %s -n %s -w\n", strings.ToLower(kind), name, short, name, ns)
	}
	return err
}

// plan says what the restore will do, on stderr so -o output stays machine-readable.
func (o *options) plan(b *v1alpha1.CassandraBackup, dc *v1alpha1.CassandraDataCenter, dryRun bool) {
	verb := "Will create"
	if dryRun {
		verb = "Would create"
	}
	_, total := totals(b)
	w := o.streams.Err
	fmt.Fprintf(w, "%s CassandraDataCenter %s/%s restoring backup %s:\n", verb, dc.Namespace, dc.Name, b.Name)
	fmt.Fprintf(w, "  from        %s (snapshot tag %s, %d nodes, %s)\n", b.Storage().StorageLocation, b.Spec.SnapshotTag, len(b.Status.Nodes), HumanBytes(total))
	fmt.Fprintf(w, "  backup of   cluster %s, datacenter %s\n", b.Spec.Cluster, b.Spec.Datacenter)
	if dc.Spec.Cluster != "" {
		fmt.Fprintf(w, "  cluster     %s\n", dc.Spec.Cluster)
	}
	if dc.Spec.Datacenter != "" {
		fmt.Fprintf(w, "  datacenter  %s\n", dc.Spec.Datacenter)
	}
	if dc.Spec.Nodes != nil {
		fmt.Fprintf(w, "  nodes       %d\n", *dc.Spec.Nodes)
	}
	if len(dc.Spec.Racks) > 0 {
		names := make([]string, len(dc.Spec.Racks))
		for i, r := range dc.Spec.Racks {
			names[i] = r.Name
		}
		fmt.Fprintf(w, "  racks       %s\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "  credentials Secret %s\n", orDefault(dc.Spec.Restore.Secret, orDefault(b.Storage().Secret, "none")))
	fmt.Fprintln(w, "Pods of the datacenter created afterwards restore their node's data and tokens before Cassandra starts.")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
