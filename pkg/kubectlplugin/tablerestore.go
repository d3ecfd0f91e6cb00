package kubectlplugin

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	typed "github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/typed/cassandraoperator/v1alpha1"
)

// restoreTables creates a CassandraRestore of the --table entities of a COMPLETED backup
// into the running datacenter.
func (o *options) restoreTables(ctx context.Context, api typed.CassandraoperatorV1alpha1Interface, ns string, b *v1alpha1.CassandraBackup, f *restoreFlags) error {
	backup := b.Name
	var entities []string
	for _, t := range f.tables {
		if t = strings.TrimSpace(t); t != "" {
			entities = append(entities, t)
		}
	}
	r := &v1alpha1.CassandraRestore{
		ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: ns},
		Spec: v1alpha1.CassandraRestoreSpec{BackupName: backup, CDC: f.cdc, Entities: strings.Join(entities, ","),
			Truncate: f.truncate, Secret: f.secret},
	}
	if f.name == "" {
		r.GenerateName = backup + "-restore-"
	}
	o.planTables(b, r, f.dryRun)
	opts := metav1.CreateOptions{}
	if f.dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	created, err := api.CassandraRestores(ns).Create(ctx, r, opts)
	if err != nil {
		return err
	}
	return o.created(created, "CassandraRestore", "cres", orDefault(created.Name, r.GenerateName+"*"), ns, f.dryRun)
}

// planTables says what a table restore will do, on stderr.
func (o *options) planTables(b *v1alpha1.CassandraBackup, r *v1alpha1.CassandraRestore, dryRun bool) {
	verb := "Will create"
	if dryRun {
		verb = "Would create"
	}
	w := o.streams.Err
	fmt.Fprintf(w, "%s CassandraRestore %s/%s restoring from backup %s:\n", verb, r.Namespace, orDefault(r.Name, r.GenerateName+"*"), b.Name)
	fmt.Fprintf(w, "  tables      %s\n", r.Spec.Entities)
	fmt.Fprintf(w, "  from        %s (snapshot tag %s, %d nodes)\n", b.Spec.StorageLocation, b.Spec.SnapshotTag, len(b.Status.Nodes))
	fmt.Fprintf(w, "  into        %s\n", orDefault(r.Spec.CDC, fmt.Sprintf("the running datacenter %s of cluster %s", b.Spec.Datacenter, b.Spec.Cluster)))
	fmt.Fprintf(w, "  credentials Secret %s\n", orDefault(r.Spec.Secret, orDefault(b.Spec.Secret, "none")))
	if r.Spec.Truncate {
		fmt.Fprintln(w, "The tables are TRUNCATED on every node first: afterwards they hold exactly the backup's data.")
	} else {
		fmt.Fprintln(w, "The backup's rows are MERGED with the live ones (newest write wins; see the README on deletes and TTLs).")
	}
}
