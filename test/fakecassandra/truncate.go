package fakecassandra

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
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

// RecreateTable drops keyspace.name and creates it again, as DROP TABLE and CREATE TABLE
// do: its directories and data go, and it comes back empty under a new table id.
func (n *Node) RecreateTable(keyspace, name string) (cassandra.Table, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.tables[keyspace+"."+name]
	if !ok {
		return cassandra.Table{}, fmt.Errorf("unknown table %s.%s", keyspace, name)
	}
	for _, d := range n.tableInfo(t).Dirs {
		if err := os.RemoveAll(d); err != nil {
			return cassandra.Table{}, err
		}
	}
	delete(n.tables, keyspace+"."+name)
	sum := md5.Sum([]byte(fmt.Sprintf("%d/%s/%s/recreated/%s", n.cfg.Seed, keyspace, name, t.id)))
	nt, err := n.createTable(keyspace, name, hex.EncodeToString(sum[:]))
	if err != nil {
		return cassandra.Table{}, err
	}
	return n.tableInfo(nt), nil
}
