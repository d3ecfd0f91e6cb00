package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cassbackup/cassandra-backup-operator/pkg/gc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

const schemaVersion = "0b2c3d4e-0000-4000-8000-000000000001"

var node = layout.Node{Cluster: "c1", Datacenter: "dc1", HostID: "3f0a3c52-0000-4000-8000-00000000000a"}

// bucket is a bucket of the S3 emulator holding two backups of node: "old" references
// a and b, "new" references b and c; d is referenced by nothing (a failed attempt's
// revision key), and the table's schema object is in no manifest.
func bucket(t *testing.T) (*emulators.S3Server, storage.Provider) {
	t.Helper()
	srv := emulators.S3(t)
	srv.CreateBucket(t, "gc-bucket")
	p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeS3, Bucket: "gc-bucket"}, storage.Config{
		Credentials: storage.StaticCredentials(srv.Secret()), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, k := range []string{"a", "b", "c", "d-0123456789abcdef"} {
		put(t, p, node.Key(object(k)), []byte("data of "+k))
	}
	put(t, p, node.Key(layout.SchemaKey("ks1", tableDir)), []byte("CREATE TABLE"))
	manifest(t, p, "old", 1000, "a", "b")
	manifest(t, p, "new", 2000, "b", "c")
	return srv, p
}

// tableDir is the table's directory: manifests must name real table ids to be read.
const tableID, tableDir = "0123456789abcdef0123456789abcdef", "t1-0123456789abcdef0123456789abcdef"

func object(name string) string {
	return layout.SSTableKey("ks1", tableDir, "", "1", "d0", "nb-1-big-"+name)
}

func put(t *testing.T, p storage.Provider, key string, data []byte) {
	t.Helper()
	if _, err := p.Put(t.Context(), key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func manifest(t *testing.T, p storage.Provider, tag string, ms int64, objects ...string) {
	t.Helper()
	m := &layout.Manifest{SchemaVersion: schemaVersion}
	m.Snapshot.Name = tag
	for _, o := range objects {
		m.Add("ks1", "t1", tableID, "nb-1-big", layout.Entry{ObjectKey: object(o), Type: layout.TypeFile, Size: int64(len("data of " + o)), Hash: fmt.Sprintf("%x", sha256.Sum256([]byte("data of "+o)))})
	}
	data, _ := json.Marshal(m)
	put(t, p, node.ManifestKey(tag, schemaVersion, time.UnixMilli(ms)), data)
	if _, err := layout.ParseManifestKey(node.ManifestKey(tag, schemaVersion, time.UnixMilli(ms))); err != nil {
		t.Fatal(err)
	}
}

func marker(t *testing.T, p storage.Provider, m layout.InFlight) {
	t.Helper()
	data, _ := json.Marshal(m)
	put(t, p, node.MarkerKey(m.UID), data)
}

func keys(t *testing.T, p storage.Provider, prefix string) []string {
	t.Helper()
	k, err := storage.Keys(t.Context(), p, prefix)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(k)
	return k
}

// TestDeleteBackupHonoursLiveMarker deletes "old" while a backup in flight holds the
// node: the manifest goes, every data object stays (the backup may reuse a, which no
// manifest references any more), the error is a BusyError, and the collector's lock is
// gone. Once the marker's backup is over, the collection removes a and d, stale marker
// included, and keeps what "new" references and the schema.
func TestDeleteBackupHonoursLiveMarker(t *testing.T) {
	_, p := bucket(t)
	live := true
	c := &gc.Collector{Storage: p, Live: func(m layout.InFlight) bool { return live && m.UID == "uid-b2" }}
	marker(t, p, layout.InFlight{UID: "uid-b2", SnapshotTag: "b2", Started: time.Now(), Expires: time.Now().Add(time.Hour)})
	before := keys(t, p, node.Key(layout.DataDir+"/"))

	_, err := c.DeleteBackup(t.Context(), node.Cluster, node.Datacenter, "old", []string{node.HostID})
	if !gc.IsBusy(err) || !strings.Contains(err.Error(), "uid-b2") {
		t.Fatalf("DeleteBackup with a live marker: %v, want a BusyError naming uid-b2", err)
	}
	if got := keys(t, p, node.Key(layout.DataDir+"/")); !slices.Equal(got, before) {
		t.Fatalf("data objects deleted while a backup was in flight: %v, want %v", got, before)
	}
	if got := keys(t, p, node.ManifestPrefix()); len(got) != 1 || !strings.Contains(got[0], "/new-") {
		t.Fatalf("manifests after the deletion of old: %v", got)
	}
	if got := keys(t, p, node.InFlightPrefix()); !slices.Equal(got, []string{node.MarkerKey("uid-b2")}) {
		t.Fatalf("in-flight keys after a busy collection: %v (the collector's lock must be removed)", got)
	}

	live = false
	res, err := c.DeleteBackup(t.Context(), node.Cluster, node.Datacenter, "old", []string{node.HostID})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{node.Key(object("b")), node.Key(object("c")), node.Key(layout.SchemaKey("ks1", tableDir))}
	slices.Sort(want)
	if got := keys(t, p, node.Key(layout.DataDir+"/")); !slices.Equal(got, want) {
		t.Errorf("data objects after the collection: %v, want %v", got, want)
	}
	if res.Objects != 2 || res.Markers != 1 {
		t.Errorf("result %+v, want 2 objects and 1 stale marker", res)
	}
	if got := keys(t, p, node.InFlightPrefix()); len(got) != 0 {
		t.Errorf("in-flight keys left: %v", got)
	}
}

// TestMarkerOfUnknownBackupHonouredUntilExpiry: without a Live func, a marker holds the
// node until it expires, and not after.
func TestMarkerOfUnknownBackupHonouredUntilExpiry(t *testing.T) {
	_, p := bucket(t)
	now := time.Now()
	c := &gc.Collector{Storage: p, Now: func() time.Time { return now }}
	marker(t, p, layout.InFlight{UID: "elsewhere", Started: now, Expires: now.Add(time.Hour)})
	if _, err := c.CollectNode(t.Context(), node); !gc.IsBusy(err) {
		t.Fatalf("unexpired marker: %v, want busy", err)
	}
	now = now.Add(2 * time.Hour)
	res, err := c.CollectNode(t.Context(), node)
	if err != nil || res.Objects != 1 || res.Markers != 1 {
		t.Fatalf("expired marker: %+v %v, want d and the marker collected", res, err)
	}
}

// TestCollectRefusesUnreadableManifest: a manifest that cannot be decoded stops the
// collection before anything is deleted.
func TestCollectRefusesUnreadableManifest(t *testing.T) {
	_, p := bucket(t)
	put(t, p, node.ManifestKey("broken", schemaVersion, time.UnixMilli(3000)), []byte("{not json"))
	before := keys(t, p, node.Key(layout.DataDir+"/"))
	if _, err := (&gc.Collector{Storage: p}).CollectNode(t.Context(), node); err == nil {
		t.Fatal("collection with an unreadable manifest succeeded")
	}
	if got := keys(t, p, node.Key(layout.DataDir+"/")); !slices.Equal(got, before) {
		t.Errorf("objects deleted on a guess: %v, want %v", got, before)
	}
}

// TestCollectAbortsIncompleteUploads: the node's incomplete multipart uploads are aborted;
// another node's are not.
func TestCollectAbortsIncompleteUploads(t *testing.T) {
	srv, p := bucket(t)
	cl := srv.Client()
	other := layout.Node{Cluster: "c1", Datacenter: "dc1", HostID: "other"}
	for _, k := range []string{node.Key(object("e")), other.Key(object("e"))} {
		if _, err := cl.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("gc-bucket"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // S3 records the initiation time in whole seconds
	res, err := (&gc.Collector{Storage: p}).CollectNode(t.Context(), node)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cl.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("gc-bucket")})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, u := range out.Uploads {
		left = append(left, aws.ToString(u.Key))
	}
	if res.Uploads != 1 || !slices.Equal(left, []string{other.Key(object("e"))}) {
		t.Errorf("aborted %d uploads; left %v, want only the other node's", res.Uploads, left)
	}
}
