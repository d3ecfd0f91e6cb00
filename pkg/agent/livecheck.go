package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// checkLive refuses a restore into the running node before anything is downloaded: every
// restored table must exist on the node with the id the backup recorded (a table dropped
// and created again has another id, and its SSTables would not load into it) and the
// backup's columns (checkSchema: an ALTER TABLE keeps the id), and the
// first data directory, where the files are staged and imported, must hold them and still
// have minFree bytes free.
func (a *Agent) checkLive(ctx context.Context, p storage.Provider, node layout.Node, l *restoreList, dataDirs []string, minFree int64) error {
	for _, dir := range slices.Sorted(maps.Keys(l.tables)) {
		t := l.tables[dir]
		live, err := cassandra.LiveTableID(ctx, a.Node, dataDirs, t.Keyspace, t.Name)
		if err != nil {
			return fmt.Errorf("table %s.%s: not on this node (%v): create it with the backup's schema first", t.Keyspace, t.Name, err)
		}
		if live != t.ID {
			return fmt.Errorf("table %s.%s: the node's table id %s differs from the backup's %s (the table was dropped and created again): refusing to restore into it", t.Keyspace, t.Name, live, t.ID)
		}
		if err := a.checkSchema(ctx, p, node, dataDirs, t); err != nil {
			return err
		}
	}
	var need int64
	if err := l.each(func(e layout.Entry, _ string) error { need += e.Size; return nil }); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dataDirs[0], &st); err != nil {
		return fmt.Errorf("free space of %s: %w", dataDirs[0], err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free-need < minFree {
		return fmt.Errorf("not enough disk space in %s: %s free, the restore needs %s and must leave %s free", dataDirs[0],
			progress.Bytes(free), progress.Bytes(need), progress.Bytes(minFree))
	}
	return nil
}

// truncateLive truncates every table the restore covers, through node control.
func (a *Agent) truncateLive(ctx context.Context, l *restoreList) error {
	for _, dir := range slices.Sorted(maps.Keys(l.tables)) {
		t := l.tables[dir]
		if err := cassandra.Truncate(ctx, a.Node, t.Keyspace, t.Name); err != nil {
			return err
		}
	}
	return nil
}
