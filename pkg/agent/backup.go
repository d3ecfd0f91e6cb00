package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// upload is one SSTable file of a snapshot and where it goes.
type upload struct {
	keyspace, table, tableID string
	sstable                  string // manifest name: nb-1-big, or .idx/nb-1-big
	file                     cassandra.File
	objectKey                string // relative to the node
	stat                     string // the file's identity (fileStat); "" when not to be trusted
	stored                   stored // what the bucket holds under objectKey
}

// Backup snapshots the node, uploads the snapshot's SSTables that are not in storage yet,
// writes the manifest last, and clears the snapshot whatever happens.
func (a *Agent) Backup(ctx context.Context, req api.Request, tr *Tracker) (err error) {
	logger := klog.FromContext(ctx).WithValues("snapshotTag", req.SnapshotTag)
	entities, err := cassandra.ParseEntities(req.Entities)
	if err != nil {
		return err
	}
	lim, err := newLimiter(req.Bandwidth)
	if err != nil {
		return err
	}
	p, loc, err := a.open(ctx, &req)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := storage.EnsureBucket(ctx, p, storage.BucketPolicy{CreateMissingBucket: req.CreateMissingBucket, SkipBucketVerification: req.SkipBucketVerification}); err != nil {
		return err
	}
	id, err := a.identify(ctx, loc)
	if err != nil {
		return err
	}
	tr.SetNode(id.node.HostID, id.schemaVersion)
	if done, err := existingBackup(ctx, layout.Catalog{Storage: p}, id, req); err != nil || done {
		if done {
			logger.Info("Backup already done: the node's manifest of the tag is this backup's", "backupUID", req.BackupUID)
		}
		return err
	}
	// The marker goes before the dedup check and is removed after the manifest (pkg/gc).
	done, err := a.announce(ctx, p, id.node, &req)
	if err != nil {
		return err
	}
	defer done()
	dirs, err := a.dataDirs(ctx, &req)
	if err != nil {
		return err
	}

	// A snapshot left by an interrupted run of this operation would make takeSnapshot fail.
	keyspaces := entities.Keyspaces()
	if err := a.Node.ClearSnapshot(ctx, req.SnapshotTag, keyspaces...); err != nil {
		return fmt.Errorf("clear leftover snapshot: %w", err)
	}
	if err := a.Node.TakeSnapshot(ctx, req.SnapshotTag, entities...); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := a.Node.ClearSnapshot(cctx, req.SnapshotTag, keyspaces...); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clear snapshot: %w", cerr))
		}
	}()
	logger.V(2).Info("Snapshot taken", "node", id.node.Prefix())

	// The file lists go to disk: the system's temporary directory, else the data directory.
	dir, err := spillDir(append([]string{os.TempDir()}, dirs...)...)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	join := newSpill(dir)
	defer join.Close()
	snaps, err := snapshotFiles(dirs, req.SnapshotTag, entities, join, tr)
	if err != nil {
		return err
	}
	if err := listStored(ctx, p, id.node, join); err != nil {
		return err
	}
	if err := recordedHashes(ctx, p, id.node, dir, join); err != nil {
		return err
	}
	uploads := newSpill(dir)
	defer uploads.Close()
	if err := joinUploads(join, uploads); err != nil {
		return err
	}
	join.Close()
	refresh, err := newRefreshPolicy(req, a.now())
	if err != nil {
		return err
	}
	entries := newSpill(dir)
	defer entries.Close()
	var mu sync.Mutex
	err = eachItem(ctx, req.Concurrency(), func(yield func(upload) error) error {
		return eachUpload(uploads, yield)
	}, func(ctx context.Context, u upload) error {
		var e layout.Entry
		err := retryFile(ctx, tr, func(ctx context.Context) (err error) {
			e, err = a.uploadFile(ctx, p, id.node, u, refresh, lim, tr)
			return err
		})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		return addEntry(entries, u, e)
	})
	if err != nil {
		return err
	}
	for _, s := range snaps {
		if s.Schema == "" {
			continue
		}
		if err := putSmall(ctx, p, id.node.Key(layout.SchemaKey(s.Table.Keyspace, s.Table.DirName())), []byte(s.Schema)); err != nil {
			return err
		}
	}
	mf, sum, err := writeManifest(dir, snaps, entries, layout.ManifestHeader{Name: req.SnapshotTag,
		Tokens: id.tokens, SchemaVersion: id.schemaVersion, Partitioner: id.partitioner, BackupUID: req.BackupUID})
	if err != nil {
		return err
	}
	defer mf.Close()
	key := id.node.ManifestKey(req.SnapshotTag, id.schemaVersion, a.now())
	if err := putSum(ctx, p, key, mf, sum); err != nil {
		return err
	}
	logger.V(1).Info("Backup committed", "manifest", key, "transfer", tr.Snapshot(), "refreshed", refresh.refreshed.Load())
	return nil
}

// place returns the key u's content belongs under, and whether the bucket already holds
// it there; sum and n are the content's SHA-256 and size when they were learnt ("" and 0
// for a file whose key is free: Put computes them). An object older backups reference is
// never replaced: content that differs from the object under u's key belongs under its
// revision key (layout.RevisionKey), which holds the content's hash.
//   - A Data.db is the object under its key when the sizes match: Cassandra never rewrites
//     a Data.db, and the key holds the SSTable's digest. It is read only when the newest
//     manifest does not record its hash.
//   - Any other file is the object under its key only when the newest manifest records the
//     same hash: Cassandra rewrites Statistics.db and Summary.db of a live SSTable in place,
//     often at the same size, and an object no manifest records (a backup that failed
//     before its manifest) cannot be compared. The recorded hash is trusted without reading
//     the file when the entry also records the file's identity, unchanged (filestat.go).
func place(ctx context.Context, p storage.Provider, node layout.Node, u upload) (key, sum string, n int64, present bool, err error) {
	size := u.stored.size
	if !u.stored.listed {
		return u.objectKey, "", 0, false, nil
	}
	prev := u.stored.prev
	recorded := u.stored.recorded && prev.Size == size && prev.Hash != ""
	d, _ := cassandra.ParseDescriptor(u.file.Name)
	data := d.Component == "Data.db"
	if recorded && u.file.Size == size && (data || u.stat != "" && u.stat == prev.Stat) {
		return u.objectKey, prev.Hash, size, true, nil
	}
	if sum, n, err = fileSHA256(u.file.Path); err != nil {
		return "", "", 0, false, err
	}
	if n == size && (data || recorded && prev.Hash == sum) {
		return u.objectKey, sum, n, true, nil
	}
	// Content rewritten in place is rare: its revision key is asked for, not listed.
	key = layout.RevisionKey(u.objectKey, sum)
	info, err := p.Head(ctx, node.Key(key))
	if errors.Is(err, storage.ErrNotFound) {
		return key, sum, n, false, nil
	}
	if err != nil {
		return "", "", 0, false, fmt.Errorf("head %s: %w", key, err)
	}
	return key, sum, n, info.Size == n, nil
}

// uploadFile uploads one file unless the bucket already holds its content (see place), and
// returns its manifest entry. A reused object is refreshed (re-touched in place) when the
// policy says it is due, so that bucket lifecycle rules expire only objects no recent
// backup references; the entry records when it was last written or refreshed.
func (a *Agent) uploadFile(ctx context.Context, p storage.Provider, node layout.Node, u upload, refresh *refreshPolicy, lim *rate.Limiter, tr *Tracker) (layout.Entry, error) {
	objectKey, sum, n, present, err := place(ctx, p, node, u)
	if err != nil {
		return layout.Entry{}, err
	}
	if present {
		// The newest manifest's time is the object's only when it is under u's own key (a
		// revision key's object is not the one that manifest recorded).
		var refreshed int64
		if objectKey == u.objectKey && u.stored.recorded && u.stored.prev.Size == u.stored.size {
			refreshed = u.stored.prev.Refreshed
		}
		if refresh.due(refreshed) {
			if err := p.Refresh(ctx, node.Key(objectKey), *refresh.opts); err != nil {
				return layout.Entry{}, fmt.Errorf("refresh %s: %w", objectKey, err)
			}
			refreshed = refresh.stamp()
			refresh.refreshed.Add(1)
		}
		tr.Skipped(n)
		return layout.Entry{ObjectKey: objectKey, Type: layout.TypeFile, Size: n, Hash: sum, Refreshed: refreshed, Stat: u.stat}, nil
	}
	f, err := os.Open(u.file.Path)
	if err != nil {
		return layout.Entry{}, fmt.Errorf("upload %s: %w", objectKey, err)
	}
	defer f.Close()
	// A revision key names its content's hash: Put refuses other content (the file changed
	// since it was hashed).
	info, err := p.Put(ctx, node.Key(objectKey), f, storage.PutOptions{SHA256: sum, Meter: newFileMeter(lim, tr, u.file.Size)})
	if err != nil {
		return layout.Entry{}, fmt.Errorf("upload %s: %w", objectKey, err)
	}
	if info.Size != u.file.Size {
		return layout.Entry{}, fmt.Errorf("upload %s: stored %d bytes of %d: the file changed while uploading", objectKey, info.Size, u.file.Size)
	}
	tr.FileDone()
	return layout.Entry{ObjectKey: objectKey, Type: layout.TypeFile, Size: info.Size, Hash: info.SHA256, Refreshed: refresh.stamp(), Stat: u.stat}, nil
}

// putSmall writes a small object unless the same content is already there.
func putSmall(ctx context.Context, p storage.Provider, key string, data []byte) error {
	return putSum(ctx, p, key, bytes.NewReader(data), sha256Hex(data))
}

// putSum writes the content r holds, of SHA-256 sum, unless the same content is already there.
func putSum(ctx context.Context, p storage.Provider, key string, r io.Reader, sum string) error {
	if info, err := p.Head(ctx, key); err == nil && info.SHA256 == sum {
		return nil
	}
	ct := "application/json"
	if strings.HasSuffix(key, ".cql") {
		ct = "text/plain"
	}
	if _, err := p.Put(ctx, key, r, storage.PutOptions{SHA256: sum, ContentType: ct}); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}
