package gcs_test

import (
	"net/http"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// fake-gcs-server does not check credentials, so the suite's rotation test does not run
// here; CredentialsResolvedPerOperation still proves every operation resolves them.
func TestConformance(t *testing.T) {
	srv := emulators.GCS(t)
	storagetest.Run(t, storagetest.Target{
		Open:        opener(srv.Endpoint, nil),
		Credentials: map[string][]byte{},
	})
}

// opener opens providers on endpoint's buckets with the suite's part and page sizes;
// httpc, when set, carries the requests.
func opener(endpoint string, httpc *http.Client) func(*testing.T, string, storage.CredentialSource) storage.Provider {
	return func(t *testing.T, bucket string, creds storage.CredentialSource) storage.Provider {
		p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeGCP, Bucket: bucket}, storage.Config{
			Credentials: creds, GCSEndpoint: endpoint, HTTPClient: httpc,
			PartSize: storagetest.PartSize, ListPageSize: storagetest.ListPageSize,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
}
