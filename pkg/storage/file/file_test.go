package file_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	storagetest.Run(t, storagetest.Target{
		Open: func(t *testing.T, bucket string, creds storage.CredentialSource) storage.Provider {
			loc, err := storage.ParseLocation("file://" + dir + "/" + bucket)
			if err != nil {
				t.Fatal(err)
			}
			p, err := storage.Open(t.Context(), loc, storage.Config{Credentials: creds, PartSize: storagetest.PartSize, ListPageSize: storagetest.ListPageSize})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Credentials: map[string][]byte{},
	})
}

func TestKeysCannotLeaveTheBucket(t *testing.T) {
	dir := t.TempDir()
	p, err := file.Open(t.Context(), storage.Location{Scheme: storage.SchemeFile, Dir: dir, Bucket: "b"}, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/", ".storage/meta/x", ""} {
		if _, err := p.Put(t.Context(), key, strings.NewReader("x"), storage.PutOptions{}); err == nil {
			t.Errorf("Put %q succeeded", key)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files outside the bucket: %v", entries)
	}
}

func TestPutLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	p, _ := file.Open(t.Context(), storage.Location{Scheme: storage.SchemeFile, Dir: dir, Bucket: "b"}, storage.Config{})
	ctx := context.Background()
	if err := p.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Put(ctx, "k", strings.NewReader("v"), storage.PutOptions{SHA256: strings.Repeat("0", 64)}); err == nil {
		t.Fatal("Put with a wrong checksum succeeded")
	}
	if _, err := p.Put(ctx, "k", strings.NewReader("v"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	tmp, _ := os.ReadDir(filepath.Join(dir, "b", ".storage", "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

// The bucket is created, not the directory that holds it (a volume that may not be
// mounted): the error says which directory is missing.
func TestCreateBucketNeedsItsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-mounted")
	p, err := file.Open(t.Context(), storage.Location{Scheme: storage.SchemeFile, Dir: dir, Bucket: "b"}, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.CreateBucket(t.Context())
	if err == nil || !strings.Contains(err.Error(), "the directory "+dir+" that holds it does not exist") {
		t.Fatalf("CreateBucket under a missing directory = %v; want an error naming %s", err, dir)
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, fs.ErrNotExist) {
		t.Fatalf("CreateBucket created the holding directory %s (stat: %v)", dir, serr)
	}
}
