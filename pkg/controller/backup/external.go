package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// External is the outside world of a CassandraBackup, after crossplane-runtime's external
// client: the remote backup in the bucket (Observe, Create, Delete), each node's backup
// operation on its agent (ObserveNode, CreateNode, DeleteNode) and the identity of the
// node a pod runs (Identify), all through the node's agent: the operator never talks to a
// node itself. It acts and reports; the handlers decide what happens next.
type External interface {
	// Identify returns the identity of the Cassandra node the pod runs, as its agent
	// reports it; the error wraps client.ErrNoIdentity for an agent without the API.
	Identify(ctx context.Context, pod *corev1.Pod) (api.Identity, error)
	// Observe reads what the bucket holds of the spec's snapshot tag.
	Observe(ctx context.Context, b *v1alpha1.CassandraBackup) (Observation, error)
	// Create commits the backup of the nodes in status: it writes the topology file, the
	// backup's commit point, unless it is there already. It returns the topology's key.
	Create(ctx context.Context, b *v1alpha1.CassandraBackup) (string, error)
	// Delete removes the backup from the bucket: its topology files, the data objects its
	// manifests reference and no other manifest does, then its manifests.
	Delete(ctx context.Context, b *v1alpha1.CassandraBackup) error
	// Collect collects the garbage of the backup's nodes with the given host ids (what
	// failed attempts left: objects under revision keys no manifest references, incomplete
	// uploads), honouring backups in flight: the error wraps a *gc.BusyError for a node
	// one of them holds.
	Collect(ctx context.Context, b *v1alpha1.CassandraBackup, hostIDs []string) error
	// ObserveNode reads the node's operation; the error wraps client.ErrNotFound when the
	// agent does not know it (it restarted).
	ObserveNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) (api.Operation, error)
	// CreateNode adopts the node's operation for the backup's snapshot and location that is
	// pending, running or completed on the agent (a previous operator process may have
	// submitted it just before it died), or submits one; submitted says which.
	CreateNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) (op api.Operation, submitted bool, err error)
	// DeleteNode cancels the node's operation; an operation the agent does not know is
	// no error.
	DeleteNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) error
}

// Observation is what the bucket holds of a backup's snapshot tag.
type Observation struct {
	// BucketExists is false when the bucket itself is missing.
	BucketExists bool
	// Topology is the key of the snapshot's newest topology file; empty when the snapshot
	// is not committed.
	Topology string
	// Nodes are the committed backup's nodes of the datacenter, COMPLETED, as an import
	// records them; empty when Missing says why.
	Nodes []v1alpha1.NodeBackupStatus
	// Missing says what is not in the bucket (the bucket, the topology, a manifest) when
	// the backup cannot be imported; empty when Nodes are.
	Missing string
	// Manifest is the key of a manifest of the tag that a node in status already has,
	// when the snapshot is not committed.
	Manifest string
}

// remote is the External over the agents' API and the bucket's layout.Catalog.
type remote struct {
	open   func(ctx context.Context, b *v1alpha1.CassandraBackup) (storage.Provider, error)
	pods   corelisters.PodLister
	agents *client.Client
	cfg    Options
	// backups tell the collector which markers' backups are still in flight.
	backups listers.CassandraBackupLister
}

// Observe reads the bucket with the backup's Secret.
func (r *remote) Observe(ctx context.Context, b *v1alpha1.CassandraBackup) (Observation, error) {
	var obs Observation
	p, err := r.open(ctx, b)
	if err != nil {
		return obs, err
	}
	defer p.Close()
	s, where := &b.Spec, b.Storage().StorageLocation
	if obs.BucketExists, err = p.BucketExists(ctx); err != nil {
		return obs, fmt.Errorf("check bucket %s: %w", p.Bucket(), err)
	}
	if !obs.BucketExists {
		obs.Missing = fmt.Sprintf("bucket %s does not exist at %s", p.Bucket(), where)
		return obs, nil
	}
	cat := layout.Catalog{Storage: p}
	ref, found, err := cat.TopologyRef(ctx, s.Cluster, s.SnapshotTag)
	if err != nil {
		return obs, err
	}
	if !found {
		obs.Missing = fmt.Sprintf("no topology file of cluster %s and snapshot tag %s at %s", s.Cluster, s.SnapshotTag, where)
		obs.Manifest, err = r.manifestOf(ctx, cat, b)
		return obs, err
	}
	obs.Topology = ref.Key
	_, nodes, err := cat.Backup(ctx, s.Cluster, s.Datacenter, s.SnapshotTag)
	if errors.Is(err, layout.ErrNotFound) {
		obs.Missing = err.Error()
		return obs, nil
	}
	if err != nil {
		return obs, err
	}
	for _, n := range nodes {
		size := n.Manifest.Bytes
		t := metav1.NewTime(n.Ref.Time().Truncate(time.Second))
		obs.Nodes = append(obs.Nodes, v1alpha1.NodeBackupStatus{Node: n.Host.Hostname, Rack: n.Host.Rack, HostID: n.Host.NodeID,
			State: v1alpha1.BackupCompleted, Progress: "100%", BytesTotal: size, BytesUploaded: size,
			FilesTotal: n.Manifest.Files, CompletionTime: &t})
	}
	return obs, nil
}

// manifestOf returns the key of a manifest of the spec's tag of a node in status, or "".
func (r *remote) manifestOf(ctx context.Context, cat layout.Catalog, b *v1alpha1.CassandraBackup) (string, error) {
	for _, n := range b.Status.Nodes {
		node := layout.Node{Cluster: b.Spec.Cluster, Datacenter: b.Spec.Datacenter, HostID: n.HostID}
		ref, ok, err := cat.ManifestRef(ctx, node, b.Spec.SnapshotTag)
		if err != nil || ok {
			return ref.Key, err
		}
	}
	return "", nil
}

// Create writes the topology file from the nodes' manifests.
func (r *remote) Create(ctx context.Context, b *v1alpha1.CassandraBackup) (string, error) {
	p, err := r.open(ctx, b)
	if err != nil {
		return "", err
	}
	defer p.Close()
	cat := layout.Catalog{Storage: p}
	cluster, tag := b.Spec.Cluster, b.Status.Snapshot
	if ref, found, err := cat.TopologyRef(ctx, cluster, tag); err != nil || found {
		return ref.Key, err
	}
	topo := layout.Topology{ClusterName: cluster}
	for _, n := range b.Status.Nodes {
		node := layout.Node{Cluster: cluster, Datacenter: b.Spec.Datacenter, HostID: n.HostID}
		ref, ok, err := cat.ManifestRef(ctx, node, tag)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("node %s completed but its manifest for %s is not under %s", n.Node, tag, node.ManifestPrefix())
		}
		if topo.SchemaVersion == "" || ref.EpochMillis > topo.Timestamp {
			topo.SchemaVersion, topo.Timestamp = ref.SchemaVersion, ref.EpochMillis
		}
		ip := ""
		if pod, err := r.pods.Pods(b.Namespace).Get(n.Node); err == nil {
			ip = pod.Status.PodIP
		}
		topo.Topology = append(topo.Topology, layout.Host{Hostname: n.Node, Cluster: cluster, DC: b.Spec.Datacenter,
			Rack: n.Rack, NodeID: n.HostID, IPAddress: ip})
	}
	data, err := json.Marshal(topo)
	if err != nil {
		return "", fmt.Errorf("encode topology: %w", err)
	}
	key := layout.TopologyKey(cluster, tag, topo.SchemaVersion, r.cfg.Now())
	if _, err := p.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return "", fmt.Errorf("upload %s: %w", key, err)
	}
	return key, nil
}

// Delete removes the backup through the one garbage collector (pkg/gc): the topology
// files first (the backup is no longer committed), then each node's manifests of the tag,
// then each node's unreferenced data objects, unless a backup in flight holds the node
// (the error then wraps a *gc.BusyError, and Delete is called again later).
func (r *remote) Delete(ctx context.Context, b *v1alpha1.CassandraBackup) error {
	p, err := r.open(ctx, b)
	if err != nil {
		return err
	}
	defer p.Close()
	var hosts []string
	for _, n := range b.Status.Nodes {
		if n.HostID != "" {
			hosts = append(hosts, n.HostID)
		}
	}
	res, err := r.collector(p).DeleteBackup(ctx, b.Spec.Cluster, b.Spec.Datacenter, b.Status.Snapshot, hosts)
	if err != nil {
		return err
	}
	klog.FromContext(ctx).Info("Remote backup deleted", "snapshot", b.Status.Snapshot, "dataObjects", res.Objects, "staleMarkers", res.Markers, "uploads", res.Uploads)
	return nil
}

// Identify asks the pod's agent (GET /identity).
func (r *remote) Identify(ctx context.Context, pod *corev1.Pod) (api.Identity, error) {
	addr, err := r.cfg.AgentAddress(pod)
	if err != nil {
		return api.Identity{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return r.agents.For(pod.Namespace).Identity(ctx, addr)
}

// address returns the agent's address for a node's pod.
func (r *remote) address(ns, name string) (string, error) {
	pod, err := r.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("pod %s not found", name)
	}
	if err != nil {
		return "", fmt.Errorf("get pod %s: %w", name, err)
	}
	return r.cfg.AgentAddress(pod)
}

// ObserveNode reads the node's operation from its agent.
func (r *remote) ObserveNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) (api.Operation, error) {
	addr, err := r.address(b.Namespace, n.Node)
	if err != nil {
		return api.Operation{}, err
	}
	return r.agents.For(b.Namespace).Get(ctx, addr, n.OperationID)
}

// CreateNode adopts or submits the node's operation.
func (r *remote) CreateNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) (api.Operation, bool, error) {
	addr, err := r.address(b.Namespace, n.Node)
	if err != nil {
		return api.Operation{}, false, err
	}
	req := request(b)
	agents := r.agents.For(b.Namespace)
	ops, err := agents.List(ctx, addr, api.TypeBackup)
	if err != nil {
		return api.Operation{}, false, err
	}
	for i := len(ops) - 1; i >= 0; i-- {
		o := ops[i]
		if o.SnapshotTag == req.SnapshotTag && o.StorageLocation == req.StorageLocation &&
			(o.State == api.StatePending || o.State == api.StateRunning || o.State == api.StateCompleted) {
			return o, false, nil
		}
	}
	if int(n.Attempts) >= r.cfg.MaxAttempts+5 {
		return api.Operation{}, false, errGaveUp
	}
	op, err := agents.Submit(ctx, addr, req)
	return op, err == nil, err
}

// DeleteNode cancels the node's operation on its agent.
func (r *remote) DeleteNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) error {
	addr, err := r.address(b.Namespace, n.Node)
	if err != nil {
		return err
	}
	if err := r.agents.For(b.Namespace).Cancel(ctx, addr, n.OperationID); err != nil && !errors.Is(err, client.ErrNotFound) {
		return err
	}
	return nil
}
