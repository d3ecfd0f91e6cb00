package location

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// AnnotationTopology, on a synced CassandraBackup, is the key of the topology file it
// was synced from.
const AnnotationTopology = "cassandraoperator.instaclustr.com/topology"

// remoteBackups lists the committed backups in the bucket: one Identity per datacenter of
// each topology file. A topology that cannot be read or parsed is skipped and logged.
func remoteBackups(ctx context.Context, p storage.Provider, location string) (map[Identity]string, error) {
	keys, err := storage.Keys(ctx, p, layout.TopologyDir+"/")
	if err != nil {
		return nil, fmt.Errorf("list %s/: %w", layout.TopologyDir, err)
	}
	out := map[Identity]string{}
	for _, key := range keys {
		if !strings.HasSuffix(key, "-topology.json") {
			continue
		}
		var raw json.RawMessage
		if err := storage.ReadJSON(ctx, p, key, &raw); err != nil {
			return nil, err
		}
		top, err := layout.DecodeTopology(raw)
		if err == nil {
			var ref layout.Ref
			if ref, err = layout.ParseTopologyKey(key, top.ClusterName); err == nil {
				for _, h := range top.Topology {
					out[Identity{Location: location, Cluster: top.ClusterName, Datacenter: h.DC, Tag: ref.Tag, EpochMillis: ref.EpochMillis}] = key
				}
				continue
			}
		}
		klog.FromContext(ctx).Info("Skipping a topology file sync cannot read", "key", key, "err", err)
	}
	return out, nil
}

// importBackups creates a justCreate CassandraBackup for every remote backup that no
// CassandraBackup of the namespace stands for and that sync did not create before (a
// synced backup a user deleted stays deleted). A backup is recorded in status.synced
// after it is created: a crash in between finds it on the next pass, by its label.
func (c *Controller) importBackups(ctx context.Context, l *v1alpha1.CassandraBackupLocation, p storage.Provider) error {
	remote, err := remoteBackups(ctx, p, l.Name)
	if err != nil {
		return err
	}
	n := int32(len(remote))
	l.Status.RemoteBackups = &n
	existing, err := c.backups.CassandraBackups(l.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list backups: %w", err)
	}
	st := &l.Status
	for _, b := range existing {
		if b.Labels[LabelLocation] == l.Name && !slices.Contains(st.Synced, b.Name) {
			st.Synced = append(st.Synced, b.Name)
		}
	}
	for id, key := range remote {
		name := BackupName(id)
		if slices.Contains(st.Synced, name) || standsFor(existing, l, id) {
			continue
		}
		b := &v1alpha1.CassandraBackup{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.Namespace,
				Labels: map[string]string{LabelLocation: l.Name}, Annotations: map[string]string{AnnotationTopology: key}},
			Spec: v1alpha1.CassandraBackupSpec{CDC: id.Datacenter, Cluster: id.Cluster, Datacenter: id.Datacenter,
				LocationRef: &v1alpha1.LocationReference{Name: l.Name}, SnapshotTag: id.Tag, JustCreate: true,
				DeletionPolicy: v1alpha1.DeletionPolicyRetain},
		}
		_, err := c.client.CassandraoperatorV1alpha1().CassandraBackups(l.Namespace).Create(ctx, b, metav1.CreateOptions{FieldManager: Name})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create backup %s for %s: %w", name, key, err)
		}
		st.Synced = append(st.Synced, name)
		klog.FromContext(ctx).Info("Synced a remote backup", "backup", name, "topology", key)
	}
	slices.Sort(st.Synced)
	return nil
}

// standsFor reports whether a CassandraBackup of the namespace already stands for the
// remote backup: same cluster, datacenter and tag, at this location or its bucket.
func standsFor(backups []*v1alpha1.CassandraBackup, l *v1alpha1.CassandraBackupLocation, id Identity) bool {
	for _, b := range backups {
		if b.Spec.Cluster != id.Cluster || b.Spec.Datacenter != id.Datacenter || b.Spec.SnapshotTag != id.Tag {
			continue
		}
		if (b.Spec.LocationRef != nil && b.Spec.LocationRef.Name == l.Name) ||
			strings.TrimSuffix(b.Storage().StorageLocation, "/") == strings.TrimSuffix(l.Spec.StorageLocation, "/") {
			return true
		}
	}
	return false
}
