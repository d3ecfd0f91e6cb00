package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// Reasons of the Synced condition of a refused backup (reconciler.WithReason).
const (
	// ReasonInvalidSpec: a spec field is wrong; the message names it.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSecretNotFound: spec.secret names a Secret that does not exist (yet).
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidSecret: the Secret breaks one of the guide's rules.
	ReasonInvalidSecret = "InvalidSecret"
	// ReasonSnapshotTagInUse: the snapshot tag was already backed up.
	ReasonSnapshotTagInUse = "SnapshotTagInUse"
	// ReasonNoPods: no running pod of the datacenter was found.
	ReasonNoPods = "NoPods"
	// ReasonStorageUnavailable: the storage location could not be read.
	ReasonStorageUnavailable = "StorageUnavailable"
	// ReasonClusterNameMismatch: the nodes report another cluster or datacenter name
	// than the spec; the message has both.
	ReasonClusterNameMismatch = "ClusterNameMismatch"
	// ReasonDataCenterMismatch: the CassandraDataCenter spec.cdc names has another cluster
	// or datacenter than the spec.
	ReasonDataCenterMismatch = "DataCenterMismatch"
	// ReasonAgentWithoutIdentity: a pod's agent has no identity API (an Icarus sidecar).
	ReasonAgentWithoutIdentity = "AgentWithoutIdentity"
	// ReasonAgentVersionUnsupported: a pod's agent is outside the versions this operator
	// drives (version.CheckAgent); the message names the nodes, their agents' versions and
	// the supported range.
	ReasonAgentVersionUnsupported = "AgentVersionUnsupported"
)

// Event reasons of a backup.
const (
	// ReasonDataCenterNotFound: spec.cdc names no CassandraDataCenter; the backup went by
	// pod labels.
	ReasonDataCenterNotFound = "DataCenterNotFound"
)

// Ready reasons of a backup.
const (
	// ReasonBackupFailed: a node's operation failed for good.
	ReasonBackupFailed = "BackupFailed"
	// ReasonBackupCancelled: an operation was cancelled.
	ReasonBackupCancelled = "BackupCancelled"
	// ReasonRemoteBackupNotFound: justCreate found no remote backup yet.
	ReasonRemoteBackupNotFound = "RemoteBackupNotFound"
)

// ReasonRemoteBackupRetained is the reason of the Warning event of a Delete-policy backup
// released without deleting its remote backup: its namespace is being deleted and its
// Secret is gone, so nothing can reach the bucket any more.
const ReasonRemoteBackupRetained = "RemoteBackupRetained"

// secretBackoff is the delay before the next look at a missing or invalid Secret.
func (c *Controller) secretBackoff(retry int) time.Duration {
	d := 2 * time.Second
	for i := 0; i < retry && d < c.cfg.MaxSecretBackoff; i++ {
		d *= 2
	}
	return min(d, c.cfg.MaxSecretBackoff)
}

// validate checks the spec and the Secret with the guide's rules. Spec problems are
// permanent (fixed by a new spec); Secret problems are retried with backoff, since
// fixing a Secret does not change the backup's generation.
func (c *Controller) validate(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackup]) (reconciler.Result, error) {
	b := ev.Object
	if final(b.Status.State) {
		return reconciler.Result{}, nil // a finished backup needs neither spec nor Secret again
	}
	if err := c.resolveLocation(b); err != nil {
		return reconciler.Result{}, reconciler.Temporary(err, c.secretBackoff(ev.Retry))
	}
	if err := checkSpec(&b.Spec, b.Storage().StorageLocation); err != nil {
		return reconciler.Result{}, reconciler.Permanent(err)
	}
	if _, err := c.credentials(ctx, b); err != nil {
		if reconciler.ReasonOf(err) == ReasonInvalidSpec {
			return reconciler.Result{}, reconciler.Permanent(err)
		}
		return reconciler.Result{}, reconciler.Temporary(err, c.secretBackoff(ev.Retry))
	}
	return reconciler.Result{}, nil
}

// checkSpec checks what the CRD schema cannot; where is the backup's storage location
// (its own or its CassandraBackupLocation's).
func checkSpec(s *v1alpha1.CassandraBackupSpec, where string) error {
	loc, err := storage.ParseLocation(where)
	if err != nil {
		return reconciler.Reasonf(ReasonInvalidSpec, "spec.storageLocation: %v", err)
	}
	if !loc.Global() {
		return reconciler.Reasonf(ReasonInvalidSpec, "spec.storageLocation %q names a node: give only the bucket, as in s3://cassandra-bucket; the operator adds cluster, datacenter and host id", where)
	}
	if err := (layout.Node{Cluster: s.Cluster, Datacenter: s.Datacenter, HostID: "x"}).Validate(); err != nil {
		return reconciler.Reasonf(ReasonInvalidSpec, "spec.cluster or spec.datacenter: %v", err)
	}
	if _, err := cassandra.ParseEntities(s.Entities); err != nil {
		return reconciler.Reasonf(ReasonInvalidSpec, "spec.entities: %v: list keyspaces or keyspace.table, comma separated", err)
	}
	if s.Bandwidth != nil && s.Bandwidth.Value() <= 0 {
		return reconciler.Reasonf(ReasonInvalidSpec, "spec.bandwidth %s is not positive: remove it or set a rate such as 100Mi", s.Bandwidth.String())
	}
	if s.Timeout != nil && s.Timeout.Duration <= 0 {
		return reconciler.Reasonf(ReasonInvalidSpec, "spec.timeout %s is not positive: set a duration such as 5h", s.Timeout.Duration)
	}
	return nil
}

// credentials reads the backup's Secret now and checks it against the rules of the
// location's scheme; it returns the checked credentials.
func (c *Controller) credentials(ctx context.Context, b *v1alpha1.CassandraBackup) (storage.Credentials, error) {
	where := b.Storage()
	loc, err := storage.ParseLocation(where.StorageLocation)
	if err != nil {
		return storage.Credentials{}, reconciler.Reasonf(ReasonInvalidSpec, "spec.storageLocation: %v", err)
	}
	var creds storage.Credentials
	if where.Secret != "" {
		creds, err = secret.Reader{Kube: c.kube}.Read(ctx, b.Namespace, where.Secret)
		switch {
		case apierrors.IsNotFound(err):
			return creds, reconciler.Reasonf(ReasonSecretNotFound, "secret %s not found in namespace %s: create it with the storage credentials (keys as in the guide), or fix %s", where.Secret, b.Namespace, secretField(b))
		case err != nil:
			return creds, err
		}
	}
	fix := "fix the secret " + where.Secret
	reason := ReasonInvalidSecret
	if where.Secret == "" {
		fix, reason = "set "+secretField(b)+" to a Secret holding them", ReasonInvalidSpec
	}
	if err := creds.Check(loc.Scheme, where.Insecure, c.cfg.Storage.GCSEndpoint); err != nil {
		return creds, reconciler.Reasonf(reason, "%v: %s", err, fix)
	}
	return creds, nil
}

// credentialSource reads the backup's Secret at every storage call.
func (c *Controller) credentialSource(b *v1alpha1.CassandraBackup) storage.CredentialSource {
	return storage.CredentialSourceFunc(func(ctx context.Context) (storage.Credentials, error) {
		return c.credentials(ctx, b)
	})
}

// openStorage opens the backup's storage location with its Secret.
func (c *Controller) openStorage(ctx context.Context, b *v1alpha1.CassandraBackup) (storage.Provider, error) {
	where := b.Storage()
	cfg := c.cfg.Storage
	cfg.Insecure = where.Insecure
	cfg.Credentials = c.credentialSource(b)
	p, _, err := storage.OpenLocation(ctx, where.StorageLocation, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where.StorageLocation, err)
	}
	return p, nil
}

// sameTarget reports whether two backups write the same snapshot of the same datacenter
// to the same location.
func sameTarget(a, b *v1alpha1.CassandraBackup) bool {
	return a.Spec.Cluster == b.Spec.Cluster && a.Spec.Datacenter == b.Spec.Datacenter && a.Spec.SnapshotTag == b.Spec.SnapshotTag &&
		SameBucket(a.Storage().StorageLocation, b.Storage().StorageLocation)
}

// SameBucket reports whether two storage locations name the same bucket.
func SameBucket(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// olderOwner returns another CassandraBackup that claimed the same snapshot first: it
// started, or it was created earlier (or at the same second with a smaller
// namespace/name) and was not refused the tag itself.
func (c *Controller) olderOwner(b *v1alpha1.CassandraBackup) (*v1alpha1.CassandraBackup, error) {
	all, err := c.backups.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	for _, o := range all {
		if o.UID == b.UID || o.Spec.JustCreate || !sameTarget(o, b) {
			continue
		}
		if o.Status.Snapshot != "" {
			return o, nil // it started: the tag is its own
		}
		if refusedForTag(o) {
			continue
		}
		ot, bt := o.CreationTimestamp.Time, b.CreationTimestamp.Time
		if ot.Before(bt) || (ot.Equal(bt) && o.Namespace+"/"+o.Name < b.Namespace+"/"+b.Name) {
			return o, nil
		}
	}
	return nil, nil
}

// refusedForTag reports whether a backup that has not started was refused its tag.
func refusedForTag(b *v1alpha1.CassandraBackup) bool {
	for _, c := range b.Status.Conditions {
		// The message test reads conditions written before Synced carried the reason.
		if c.Type == reconciler.TypeSynced && c.Status == metav1.ConditionFalse &&
			(c.Reason == ReasonSnapshotTagInUse || strings.Contains(c.Message, ReasonSnapshotTagInUse+":")) {
			return true
		}
	}
	return false
}

// checkTagUnused refuses a snapshot tag that another CassandraBackup claimed first or
// that the bucket already holds (a topology, or a manifest of one of the nodes).
func (c *Controller) checkTagUnused(ctx context.Context, b *v1alpha1.CassandraBackup, nodes []v1alpha1.NodeBackupStatus) error {
	o, err := c.olderOwner(b)
	if err != nil {
		return err
	}
	if o != nil {
		return reconciler.Reasonf(ReasonSnapshotTagInUse, "snapshot tag %s of cluster %s, datacenter %s at %s is already used by CassandraBackup %s/%s: a tag can be backed up once; choose a new snapshotTag (include the date and time)",
			b.Spec.SnapshotTag, b.Spec.Cluster, b.Spec.Datacenter, b.Storage().StorageLocation, o.Namespace, o.Name)
	}
	probe := b.DeepCopy()
	probe.Status.Nodes = nodes
	obs, err := c.ext.Observe(ctx, probe)
	switch {
	case err != nil:
		return err
	case obs.Topology != "":
		return reconciler.Reasonf(ReasonSnapshotTagInUse, "snapshot tag %s of cluster %s is already in the bucket (%s): a tag can be backed up once; choose a new snapshotTag, or set justCreate: true to import that backup", b.Spec.SnapshotTag, b.Spec.Cluster, obs.Topology)
	case obs.Manifest != "":
		return reconciler.Reasonf(ReasonSnapshotTagInUse, "snapshot tag %s of datacenter %s is already in the bucket (%s): a tag can be backed up once; choose a new snapshotTag", b.Spec.SnapshotTag, b.Spec.Datacenter, obs.Manifest)
	}
	return nil
}
