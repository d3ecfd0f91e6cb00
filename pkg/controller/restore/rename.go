package restore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// A restore into a datacenter of another name than the backup's. The restored schema's
// keyspaces keep their replication, which names the backup's datacenter: the new one
// would hold no replica of them. So a rename is refused (DatacenterRenamed) unless
// spec.restore.renameDatacenter says to rewrite the replication; on pods whose node
// control cannot alter a keyspace (Jolokia) the opt-in is refused too
// (DatacenterRenameUnsupported), with the CQL to run by hand. The rewrite itself is
// replication.go.

// Reasons of a refused rename (the Ready condition, a Warning event).
const (
	// ReasonDatacenterRenamed: the datacenter's name differs from the backup's and
	// spec.restore.renameDatacenter is not set.
	ReasonDatacenterRenamed = "DatacenterRenamed"
	// ReasonRenameUnsupported: renameDatacenter is set, but the pods' node control has no
	// call that alters a keyspace's replication.
	ReasonRenameUnsupported = "DatacenterRenameUnsupported"
)

// rename returns the backup's datacenter and dc's when the restore renames it; the
// datacenter's name is spec.datacenter (a CassandraDataCenter that states none, as the
// guide's, is not checked: its Cassandra datacenter name is not known here).
func rename(dc *v1alpha1.CassandraDataCenter, b *v1alpha1.CassandraBackup) (from, to string, ok bool) {
	from, to = b.Spec.Datacenter, dc.Spec.Datacenter
	return from, to, from != "" && to != "" && from != to
}

// checkRename refuses a restore that renames the datacenter without the opt-in, or with
// it on pods of profile p, whose node control cannot rewrite replication.
func (c *Controller) checkRename(dc *v1alpha1.CassandraDataCenter, b *v1alpha1.CassandraBackup, p profile.Profile) error {
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
	if p.NodeControl != profile.ManagementAPI {
		return c.refuse(dc, ReasonRenameUnsupported, unsupportedMsg(p, b, from, to))
	}
	return nil
}

// unsupportedMsg says why profile p cannot rename, and the CQL that does it by hand.
func unsupportedMsg(p profile.Profile, b *v1alpha1.CassandraBackup, from, to string) string {
	keyspaces := "<keyspace>"
	if es, err := cassandra.ParseEntities(b.Spec.Entities); err == nil && len(es) > 0 {
		var user []string
		for _, ks := range es.Keyspaces() {
			if !cassandra.IsSystemKeyspace(ks) {
				user = append(user, ks)
			}
		}
		if len(user) > 0 {
			keyspaces = strings.Join(user, ", ")
		}
	}
	cql := fmt.Sprintf("ALTER KEYSPACE <keyspace> WITH replication = {'class': 'NetworkTopologyStrategy', '%s': <its factor in %s>, <its other datacenters as they are>};", to, from)
	return fmt.Sprintf("spec.restore.renameDatacenter cannot be honoured: pods of profile %s are controlled through %s, which has no call that alters a keyspace's replication. "+
		"Restore into a datacenter named %s, or use pods controlled through the Management API. By hand, for each restored keyspace (%s) whose replication names %s, "+
		"run on a node of %s once it is up: %s then nodetool repair -full",
		p.Name, p.NodeControl, from, keyspaces, from, to, cql)
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
	names := make([]string, 0, len(repl))
	for ks := range repl {
		names = append(names, ks)
	}
	sort.Strings(names)
	for _, ks := range names {
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
