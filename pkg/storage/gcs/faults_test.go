package gcs_test

import (
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// TestFaults: behind a proxy that answers about 11 % of requests 503 and 2 % 429, and
// resets about 7 % of connections mid-body, every operation succeeds.
func TestFaults(t *testing.T) {
	srv := emulators.GCS(t)
	srv.CreateBucket(t, "faults")
	faults := storagetest.DefaultFaults
	faults.TargetHost = true
	proxy := storagetest.StartFaultProxy(t, srv.URL, faults)
	p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeGCP, Bucket: "faults"}, storage.Config{
		Credentials: storage.StaticCredentials(nil), PartSize: storagetest.PartSize,
		GCSEndpoint: proxy.URL + "/storage/v1/",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	storagetest.CheckFaults(t, p, proxy)
}
