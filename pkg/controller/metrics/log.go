package metrics

import (
	"errors"

	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// logBackup logs one line when b's state changed: at error level with the failed nodes'
// messages when it failed, else at the default verbosity.
func logBackup(logger klog.Logger, old, b *v1alpha1.CassandraBackup) {
	if old.Status.State == b.Status.State || b.Status.State == "" {
		return
	}
	kv := []any{"object", klog.KObj(b), "kind", "CassandraBackup", "from", string(old.Status.State), "to", string(b.Status.State),
		"cluster", b.Spec.Cluster, "datacenter", b.Spec.Datacenter}
	if b.Status.State == v1alpha1.BackupFailed {
		var msgs []error
		for _, n := range b.Status.Nodes {
			if n.Message != "" {
				msgs = append(msgs, errors.New(n.Node+": "+n.Message))
			}
		}
		if len(msgs) == 0 {
			msgs = append(msgs, errors.New("backup failed"))
		}
		logger.Error(errors.Join(msgs...), "Backup state changed", kv...)
		return
	}
	logger.Info("Backup state changed", kv...)
}

// logRestore logs one line when dc's restore state changed, at error level when it failed.
func logRestore(logger klog.Logger, old, dc *v1alpha1.CassandraDataCenter) {
	var from, to v1alpha1.RestoreState
	if old.Status.Restore != nil {
		from = old.Status.Restore.State
	}
	if dc.Status.Restore != nil {
		to = dc.Status.Restore.State
	}
	if from == to || to == "" {
		return
	}
	kind := dc.Kind // a cass-operator CassandraDatacenter's view has its kind
	if kind == "" {
		kind = "CassandraDataCenter"
	}
	kv := []any{"object", klog.KObj(dc), "kind", kind, "from", string(from), "to", string(to),
		"cluster", dc.Spec.Cluster, "datacenter", datacenterLabel(dc)}
	if to == v1alpha1.RestoreFailed {
		var msgs []error
		for _, n := range dc.Status.Restore.Nodes {
			if n.Message != "" {
				msgs = append(msgs, errors.New(n.Pod+": "+n.Message))
			}
		}
		if len(msgs) == 0 {
			msgs = append(msgs, errors.New("restore failed"))
		}
		logger.Error(errors.Join(msgs...), "Restore state changed", kv...)
		return
	}
	logger.Info("Restore state changed", kv...)
}
