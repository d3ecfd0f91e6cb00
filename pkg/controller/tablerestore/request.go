package tablerestore

import (
	"fmt"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// address returns the agent's address of a node's pod.
func (c *Controller) address(ns, name string) (string, error) {
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil {
		return "", fmt.Errorf("pod %s: %w", name, err)
	}
	return c.cfg.AgentAddress(pod)
}

// request is the node's live-restore operation of its phase: the backed-up node's files,
// located by a per-node storage location, so the node need not be that node.
func (c *Controller) request(r *v1alpha1.CassandraRestore, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeTableRestoreStatus) (api.Request, error) {
	loc, err := storage.ParseLocation(b.Spec.StorageLocation)
	if err == nil {
		loc, err = loc.ForNode(b.Spec.Cluster, b.Spec.Datacenter, n.SourceHostID)
	}
	if err != nil {
		return api.Request{}, fmt.Errorf("storage location of node %s: %w", n.SourceNode, err)
	}
	s := &r.Spec
	req := api.Request{
		Type: api.TypeRestore, StorageLocation: loc.String(), SnapshotTag: r.Status.Snapshot, Entities: s.Entities,
		RestorationStrategyType: "IMPORT", Insecure: b.Spec.Insecure, Key: n.OperationKey,
		ConcurrentConnections: int(cmp32(s.ConcurrentConnections, b.Spec.ConcurrentConnections)),
		MinFreeBytes:          DefaultMinFreeBytes,
	}
	if n.Phase != v1alpha1.TableRestoreImport {
		req.RestorationPhase = string(n.Phase)
	}
	if sec := cmpOr(s.Secret, b.Spec.Secret); sec != "" {
		req.K8sNamespace, req.K8sSecretName = r.Namespace, sec
	}
	if bw := s.Bandwidth; bw != nil || b.Spec.Bandwidth != nil {
		if bw == nil {
			bw = b.Spec.Bandwidth
		}
		req.Bandwidth = &api.Bandwidth{Value: bw.Value(), Unit: "BPS"}
	}
	if s.MinFreeBytes != nil {
		req.MinFreeBytes = s.MinFreeBytes.Value()
	}
	return req, nil
}

func cmp32(a, b int32) int32 {
	if a != 0 {
		return a
	}
	return b
}
