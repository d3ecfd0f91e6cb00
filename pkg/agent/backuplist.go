package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// A backup's file lists go to disk (a node may hold millions of files): the snapshot's
// files, the bucket's listing of the node's data and the newest manifest's entries are
// sorted together by object key and merge-joined, which tells each file what the bucket
// already holds under its key; the uploads are then sorted largest first, and their
// manifest entries by keyspace, table and SSTable for the streaming manifest writer.

// Kinds of the records the join sorts, in the order they sort for one key: what the
// bucket holds and what the newest manifest records come before the local file.
const (
	joinListed   = "1"
	joinRecorded = "2"
	joinLocal    = "3"
)

// stored is what the bucket holds under one upload's object key.
type stored struct {
	// listed is set when the key is in the bucket, of size size.
	listed bool
	size   int64
	// prev is the newest manifest's entry of the key, when recorded is set.
	prev     layout.Entry
	recorded bool
}

// snapshotFiles spills the snapshot's files, keyed by object key, with their identities
// (fileStat), and returns its tables (without their SSTables).
func snapshotFiles(dirs []string, tag string, entities cassandra.Entities, join *spill, tr *Tracker) ([]cassandra.TableSnapshot, error) {
	var tables []cassandra.TableSnapshot
	now := time.Now()
	err := cassandra.EachSnapshot(dirs, tag, entities, func(s cassandra.TableSnapshot) error {
		for _, ss := range s.SSTables {
			name := ss.Name
			if ss.Index != "" {
				name = ss.Index + "/" + ss.Name
			}
			for _, f := range ss.Files {
				key := layout.SSTableKey(s.Table.Keyspace, s.Table.DirName(), ss.Index, ss.Generation, ss.Digest, f.Name)
				stat, err := fileStat(f.Path, now)
				if err != nil {
					return err
				}
				if err := join.Add(record(key, joinLocal, s.Table.Keyspace, s.Table.Name, s.Table.ID, name, f.Name, f.Path, strconv.FormatInt(f.Size, 10), stat)); err != nil {
					return err
				}
				tr.AddTotal(1, f.Size)
			}
		}
		s.SSTables = nil
		tables = append(tables, s)
		return nil
	})
	return tables, err
}

// listStored spills the bucket's objects under the node's data prefix, keyed by object key.
func listStored(ctx context.Context, p storage.Provider, node layout.Node, join *spill) error {
	prefix := node.Key(layout.DataDir + "/")
	for info, err := range p.List(ctx, prefix) {
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := join.Add(record(strings.TrimPrefix(info.Key, node.Key("")), joinListed, strconv.FormatInt(info.Size, 10))); err != nil {
			return err
		}
	}
	return nil
}

// recordedHashes spills the entries of the node's newest manifest, keyed by object key.
// A manifest that cannot be read adds nothing: a backup then hashes every reused file.
func recordedHashes(ctx context.Context, p storage.Provider, node layout.Node, dir string, join *spill) error {
	cat := layout.Catalog{Storage: p}
	keys, err := cat.Manifests(ctx, node)
	if err != nil {
		return err
	}
	ref, ok := layout.NewestManifest(keys)
	if !ok {
		return nil
	}
	prev := newSpill(dir)
	defer prev.Close()
	r, err := p.Get(ctx, ref.Key, storage.Range{})
	if err == nil {
		_, err = layout.ScanManifest(r, func(f layout.File) error {
			return prev.Add(record(f.ObjectKey, joinRecorded, strconv.FormatInt(f.Size, 10), f.Hash, strconv.FormatInt(f.Refreshed, 10), f.Stat))
		})
		r.Close()
	}
	if err != nil {
		klog.FromContext(ctx).Info("Previous manifest not read; reused files are hashed again", "manifest", ref.Key, "err", err)
		return nil
	}
	return prev.Each(join.Add)
}

// joinUploads merges the sorted join and spills each local file with what the bucket holds
// under its key into a list sorted largest first (a big file started last would leave the
// other connections idle).
func joinUploads(join, uploads *spill) error {
	var key string
	var st stored
	return join.Each(func(rec []byte) error {
		f := fields(rec, 10)
		if f[0] != key {
			key, st = f[0], stored{}
		}
		switch f[1] {
		case joinListed:
			st.listed, st.size = true, atoi(f[2])
		case joinRecorded:
			st.recorded, st.prev = true, layout.Entry{ObjectKey: key, Size: atoi(f[2]), Hash: f[3], Refreshed: atoi(f[4]), Stat: f[5]}
		case joinLocal:
			size := atoi(f[8])
			listed, recorded, refreshed := "", "", ""
			if st.listed {
				listed = strconv.FormatInt(st.size, 10)
			}
			if st.recorded {
				recorded, refreshed = strconv.FormatInt(st.prev.Size, 10), strconv.FormatInt(st.prev.Refreshed, 10)
			}
			return uploads.Add(record(sizeDesc(size)+key, f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], listed, recorded, st.prev.Hash, refreshed, st.prev.Stat))
		}
		return nil
	})
}

// eachUpload calls fn with every upload of the list, largest first.
func eachUpload(uploads *spill, fn func(upload) error) error {
	return uploads.Each(func(rec []byte) error {
		f := fields(rec[8:], 14)
		u := upload{objectKey: f[0], keyspace: f[1], table: f[2], tableID: f[3], sstable: f[4],
			file: cassandra.File{Name: f[5], Path: f[6], Size: atoi(f[7])}, stat: f[8]}
		if f[9] != "" {
			u.stored.listed, u.stored.size = true, atoi(f[9])
		}
		if f[10] != "" {
			u.stored.recorded, u.stored.prev = true, layout.Entry{ObjectKey: f[0], Size: atoi(f[10]), Hash: f[11], Refreshed: atoi(f[12]), Stat: f[13]}
		}
		return fn(u)
	})
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// addEntry spills a manifest entry, keyed for ManifestWriter's order.
func addEntry(entries *spill, u upload, e layout.Entry) error {
	return entries.Add(record(u.keyspace, u.table, u.sstable, e.ObjectKey, strconv.FormatInt(e.Size, 10), e.Hash, strconv.FormatInt(e.Refreshed, 10), e.Stat))
}

// writeManifest writes the manifest of the tables and their spilled entries to a file in
// dir, and returns it with its SHA-256. Of two tables of one name (dropped and created
// again), the last one's id and schema are kept, as Manifest.SetSchema keeps them.
func writeManifest(dir string, tables []cassandra.TableSnapshot, entries *spill, header layout.ManifestHeader) (*os.File, string, error) {
	byName := map[[2]string]cassandra.Table{}
	schemas := map[[2]string]string{}
	for _, t := range tables {
		k := [2]string{t.Table.Keyspace, t.Table.Name}
		byName[k], schemas[k] = t.Table, t.Schema
	}
	names := slices.SortedFunc(func(yield func([2]string) bool) {
		for k := range byName {
			if !yield(k) {
				return
			}
		}
	}, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	f, err := os.CreateTemp(dir, "manifest-*")
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	w := layout.NewManifestWriter(io.MultiWriter(f, h), header.Name)
	next := 0
	// open writes the tables up to and including keyspace.table.
	open := func(ks, table string) error {
		for ; next < len(names) && names[next][0]+"\x00"+names[next][1] <= ks+"\x00"+table; next++ {
			k := names[next]
			if err := w.Table(k[0], k[1], byName[k].ID, schemas[k]); err != nil {
				return err
			}
		}
		return nil
	}
	var cur [2]string
	err = entries.Each(func(rec []byte) error {
		fs := fields(rec, 8)
		if k := [2]string{fs[0], fs[1]}; k != cur {
			cur = k
			if err := open(fs[0], fs[1]); err != nil {
				return err
			}
		}
		return w.Add(fs[2], layout.Entry{ObjectKey: fs[3], Type: layout.TypeFile, Size: atoi(fs[4]), Hash: fs[5], Refreshed: atoi(fs[6]), Stat: fs[7]})
	})
	if err == nil {
		err = open("\xff", "")
	}
	if err == nil {
		err = w.Close(header)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("encode manifest: %w", err)
	}
	return f, hex.EncodeToString(h.Sum(nil)), nil
}
