package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
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

	snaps, err := cassandra.Snapshot(dirs, req.SnapshotTag, entities)
	if err != nil {
		return err
	}
	manifest := &layout.Manifest{Tokens: id.tokens, SchemaVersion: id.schemaVersion, Partitioner: id.partitioner, BackupUID: req.BackupUID}
	manifest.Snapshot.Name = req.SnapshotTag
	var uploads []upload
	for _, s := range snaps {
		manifest.SetSchema(s.Table.Keyspace, s.Table.Name, s.Table.ID, s.Schema)
		for _, ss := range s.SSTables {
			name := ss.Name
			if ss.Index != "" {
				name = ss.Index + "/" + ss.Name
			}
			for _, f := range ss.Files {
				uploads = append(uploads, upload{
					keyspace: s.Table.Keyspace, table: s.Table.Name, tableID: s.Table.ID, sstable: name, file: f,
					objectKey: layout.SSTableKey(s.Table.Keyspace, s.Table.DirName(), ss.Index, ss.Generation, ss.Digest, f.Name),
				})
				tr.AddTotal(1, f.Size)
			}
		}
	}

	present, err := listSizes(ctx, p, id.node.Key(layout.DataDir+"/"))
	if err != nil {
		return err
	}
	stored := storedObjects{node: id.node, sizes: present}
	if len(present) > 0 {
		stored.hashes = newestHashes(ctx, p, id.node)
	}
	var refresh *storage.RefreshOptions
	if !req.SkipRefreshing {
		dir, err := storage.ParseMetadataDirective(req.MetadataDirective)
		if err != nil {
			return err
		}
		refresh = &storage.RefreshOptions{Directive: dir}
	}
	// Largest first: a big file started last would leave the other connections idle.
	sort.SliceStable(uploads, func(i, j int) bool { return uploads[i].file.Size > uploads[j].file.Size })
	var mu sync.Mutex
	err = eachFile(ctx, len(uploads), req.Concurrency(), func(ctx context.Context, i int) error {
		u := uploads[i]
		var e layout.Entry
		err := retryFile(ctx, tr, func(ctx context.Context) (err error) {
			e, err = a.uploadFile(ctx, p, u, stored, refresh, lim, tr)
			return err
		})
		if err != nil {
			return err
		}
		mu.Lock()
		manifest.Add(u.keyspace, u.table, u.tableID, u.sstable, e)
		mu.Unlock()
		return nil
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
	for _, ks := range manifest.Snapshot.Keyspaces {
		for _, t := range ks.Tables {
			for _, entries := range t.SSTables {
				sort.Slice(entries, func(i, j int) bool { return entries[i].ObjectKey < entries[j].ObjectKey })
			}
		}
	}
	data, err := json.Marshal(manifest)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	key := id.node.ManifestKey(req.SnapshotTag, id.schemaVersion, a.now())
	if err := putSmall(ctx, p, key, data); err != nil {
		return err
	}
	logger.V(1).Info("Backup committed", "manifest", key, "transfer", tr.Snapshot())
	return nil
}

// listSizes returns the sizes of the objects under prefix.
func listSizes(ctx context.Context, p storage.Provider, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	for info, err := range p.List(ctx, prefix) {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		out[info.Key] = info.Size
	}
	return out, nil
}

// storedObjects is what the bucket already holds under the node's data prefix.
type storedObjects struct {
	node layout.Node
	// sizes maps bucket keys to object sizes.
	sizes map[string]int64
	// hashes maps node-relative object keys to the entries the newest manifest records.
	hashes map[string]layout.Entry
}

// newestHashes returns the entries of the node's newest manifest by object key, or nil when
// there is none or it cannot be read: a backup then hashes every reused file itself.
func newestHashes(ctx context.Context, p storage.Provider, node layout.Node) map[string]layout.Entry {
	_, m, ok, err := layout.Catalog{Storage: p}.NewestManifest(ctx, node)
	if err != nil {
		klog.FromContext(ctx).Info("Previous manifest not read; reused files are hashed again", "err", err)
	}
	if !ok || err != nil {
		return nil
	}
	out := map[string]layout.Entry{}
	for _, f := range m.Files() {
		out[f.ObjectKey] = f.Entry
	}
	return out
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
//     before its manifest) cannot be compared.
func place(u upload, stored storedObjects) (key, sum string, n int64, present bool, err error) {
	size, ok := stored.sizes[stored.node.Key(u.objectKey)]
	if !ok {
		return u.objectKey, "", 0, false, nil
	}
	prev, recorded := stored.hashes[u.objectKey]
	recorded = recorded && prev.Size == size && prev.Hash != ""
	d, _ := cassandra.ParseDescriptor(u.file.Name)
	data := d.Component == "Data.db"
	if data && recorded && u.file.Size == size {
		return u.objectKey, prev.Hash, size, true, nil
	}
	if sum, n, err = fileSHA256(u.file.Path); err != nil {
		return "", "", 0, false, err
	}
	if n == size && (data || recorded && prev.Hash == sum) {
		return u.objectKey, sum, n, true, nil
	}
	key = layout.RevisionKey(u.objectKey, sum)
	rs, ok := stored.sizes[stored.node.Key(key)]
	return key, sum, n, ok && rs == n, nil
}

// uploadFile uploads one file unless the bucket already holds its content (see place), and
// returns its manifest entry. A reused object is refreshed (re-touched in place) unless
// refresh is nil, so that bucket lifecycle rules expire only objects no recent backup
// references.
func (a *Agent) uploadFile(ctx context.Context, p storage.Provider, u upload, stored storedObjects, refresh *storage.RefreshOptions, lim *rate.Limiter, tr *Tracker) (layout.Entry, error) {
	objectKey, sum, n, present, err := place(u, stored)
	if err != nil {
		return layout.Entry{}, err
	}
	if present {
		if refresh != nil {
			if err := p.Refresh(ctx, stored.node.Key(objectKey), *refresh); err != nil {
				return layout.Entry{}, fmt.Errorf("refresh %s: %w", objectKey, err)
			}
		}
		tr.Skipped(n)
		return layout.Entry{ObjectKey: objectKey, Type: layout.TypeFile, Size: n, Hash: sum}, nil
	}
	f, err := os.Open(u.file.Path)
	if err != nil {
		return layout.Entry{}, fmt.Errorf("upload %s: %w", objectKey, err)
	}
	defer f.Close()
	// A revision key names its content's hash: Put refuses other content (the file changed
	// since it was hashed).
	info, err := p.Put(ctx, stored.node.Key(objectKey), f, storage.PutOptions{SHA256: sum, Meter: newFileMeter(lim, tr, u.file.Size)})
	if err != nil {
		return layout.Entry{}, fmt.Errorf("upload %s: %w", objectKey, err)
	}
	if info.Size != u.file.Size {
		return layout.Entry{}, fmt.Errorf("upload %s: stored %d bytes of %d: the file changed while uploading", objectKey, info.Size, u.file.Size)
	}
	tr.FileDone()
	return layout.Entry{ObjectKey: objectKey, Type: layout.TypeFile, Size: info.Size, Hash: info.SHA256}, nil
}

// putSmall writes a small object unless the same content is already there.
func putSmall(ctx context.Context, p storage.Provider, key string, data []byte) error {
	sum := sha256Hex(data)
	if info, err := p.Head(ctx, key); err == nil && info.SHA256 == sum {
		return nil
	}
	ct := "application/json"
	if strings.HasSuffix(key, ".cql") {
		ct = "text/plain"
	}
	if _, err := p.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{SHA256: sum, ContentType: ct}); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}
