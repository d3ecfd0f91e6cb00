package fakecassandra

import (
	"net/http"
	"os"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// truncate empties t as Cassandra's TRUNCATE does on one node: the memtable is dropped
// and every live SSTable (its secondary index SSTables too) is deleted; SSTables placed
// but not loaded yet (3.x, Management API) stay. Snapshots and backups are kept.
func (n *Node) truncate(t *table) error {
	t.mem.Reset()
	for _, dir := range n.tableInfo(t).Dirs {
		ss, err := cassandra.ReadSSTables(dir)
		if err != nil {
			return &javaError{"java.io.IOException", err.Error()}
		}
		for _, s := range ss {
			if !t.isLive(s.Index, s.Name) {
				continue
			}
			for _, f := range s.Files {
				if err := os.Remove(f.Path); err != nil {
					return &javaError{"org.apache.cassandra.io.FSWriteError", err.Error()}
				}
			}
			if t.live != nil {
				delete(t.live, s.Index+s.Name)
			}
		}
	}
	return nil
}

// mgmtTruncate serves the Management API's table truncate (keyspaceName, table).
func (n *Node) mgmtTruncate(r *http.Request) (any, int, string) {
	q := r.URL.Query()
	t, ok := n.tables[q.Get("keyspaceName")+"."+q.Get("table")]
	if !ok {
		return nil, http.StatusNotFound, "unknown table " + q.Get("keyspaceName") + "." + q.Get("table")
	}
	if err := n.truncate(t); err != nil {
		return nil, http.StatusInternalServerError, err.Error()
	}
	return "OK", 0, ""
}
