package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
)

func TestKeysAndReadJSON(t *testing.T) {
	ctx := t.Context()
	p, _, err := storage.OpenLocation(ctx, "file://"+t.TempDir()+"/bucket", storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"a/1.json": `{"n":1}`, "a/2.json": `not json`, "b/3.json": `{}`} {
		if _, err := p.Put(ctx, key, strings.NewReader(body), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := storage.Keys(ctx, p, "a/")
	if err != nil || strings.Join(keys, ",") != "a/1.json,a/2.json" {
		t.Fatalf("Keys(a/) = %v, %v", keys, err)
	}
	var v struct{ N int }
	if err := storage.ReadJSON(ctx, p, "a/1.json", &v); err != nil || v.N != 1 {
		t.Errorf("ReadJSON = %+v, %v", v, err)
	}
	if err := storage.ReadJSON(ctx, p, "a/2.json", &v); err == nil || !strings.Contains(err.Error(), "decode a/2.json") {
		t.Errorf("ReadJSON of bad JSON: %v", err)
	}
	if err := storage.ReadJSON(ctx, p, "missing.json", &v); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ReadJSON of a missing key: %v", err)
	}
}
