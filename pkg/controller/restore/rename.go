package restore

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// A restore into a datacenter of another name than the backup's. The restored schema's
// keyspaces keep their replication, which names the backup's datacenter: the new one
// would hold no replica of them. So a rename is refused (DatacenterRenamed) unless
// spec.restore.renameDatacenter says to rewrite the replication. On pods whose node
// control cannot alter a keyspace (Jolokia) the restore runs and the condition
// ReplicationRewritten says the rewrite is the user's (ManualRewriteRequired), with the
// CQL to run. The rewrite itself is replication.go.

// ReasonDatacenterRenamed (the Ready condition, a Warning event): the datacenter's name
// differs from the backup's and spec.restore.renameDatacenter is not set.
const ReasonDatacenterRenamed = "DatacenterRenamed"

// ReasonManualRewrite (the ReplicationRewritten condition, a Warning event):
// renameDatacenter is set, but the pods' node control has no call that alters a
// keyspace's replication; the message has the CQL to run by hand.
const ReasonManualRewrite = "ManualRewriteRequired"

// rename returns the backup's datacenter and dc's when the restore renames it; the
// datacenter's name is spec.datacenter (a CassandraDataCenter that states none, as the
// guide's, is not checked: its Cassandra datacenter name is not known here).
func rename(dc *v1alpha1.CassandraDataCenter, b *v1alpha1.CassandraBackup) (from, to string, ok bool) {
	from, to = b.Spec.Datacenter, dc.Spec.Datacenter
	return from, to, from != "" && to != "" && from != to
}

// checkRename refuses a restore that renames the datacenter without the opt-in.
func (c *Controller) checkRename(dc *v1alpha1.CassandraDataCenter, b *v1alpha1.CassandraBackup) error {
	from, to, renamed := rename(dc, b)
	if !renamed {
		return nil
	}
	if !dc.Spec.Restore.RenameDatacenter {
		msg := fmt.Sprintf("datacenter %s restores backup %s of datacenter %s: the restored keyspaces' replication names %s, so %s would hold no replica of them. "+
			"Restore into a datacenter named %s, or set spec.restore.renameDatacenter: true (spec.restore cannot change: remove it, then set it again with the field; "+
			"on a cass-operator CassandraDatacenter the annotation %s: \"true\") to have the operator rewrite the replication once the first node is up",
			to, b.Name, from, from, to, from, cassdc.AnnotationRestoreRenameDatacenter)
		return c.refuse(dc, ReasonDatacenterRenamed, msg)
	}
	return nil
}

// manualMsg says why the operator cannot rewrite the replication on pods of profile p,
// and the CQL that does it by hand.
func manualMsg(p profile.Profile, entities, from, to string) string {
	keyspaces := "every restored keyspace"
	if es, err := cassandra.ParseEntities(entities); err == nil && len(es) > 0 {
		var user []string
		for _, ks := range es.Keyspaces() {
			if !cassandra.IsSystemKeyspace(ks) {
				user = append(user, ks)
			}
		}
		if len(user) > 0 {
			keyspaces = "each restored keyspace (" + strings.Join(user, ", ") + ")"
		}
	}
	cql := fmt.Sprintf("ALTER KEYSPACE <keyspace> WITH replication = {'class': 'NetworkTopologyStrategy', '%s': <its factor in %s>, <its other datacenters as they are>};", to, from)
	return fmt.Sprintf("the replication of the restored keyspaces still names datacenter %s, and pods of profile %s are controlled through %s, which has no call that alters a keyspace's replication: "+
		"rewrite it by hand. For %s whose replication names %s, run on a node of %s once it is up: %s then nodetool repair -full on every node",
		from, p.Name, p.NodeControl, keyspaces, from, to, cql)
}

// rewrite is one keyspace whose replication names the source datacenter.
type rewrite struct {
	keyspace      string
	before, after map[string]int
}

// rewrites returns the keyspaces (sorted) whose replication must change for the rename
// from → to: the restored ones (selected by entities; every keyspace when empty) that are
// not system keyspaces and whose NetworkTopologyStrategy names from. A keyspace whose
// replication is not whole factors is named in skipped.
func rewrites(repl map[string]cassandra.Replication, entities cassandra.Entities, from, to string) (out []rewrite, skipped []string) {
	for _, ks := range slices.Sorted(maps.Keys(repl)) {
		if cassandra.IsSystemKeyspace(ks) || !entities.MatchKeyspace(ks) {
			continue
		}
		before, after, changed, err := cassandra.RenameDatacenter(repl[ks], from, to)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (%v)", ks, err))
			continue
		}
		if changed {
			out = append(out, rewrite{keyspace: ks, before: before, after: after})
		}
	}
	return out, skipped
}
