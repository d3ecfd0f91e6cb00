package azure_test

import (
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

func TestConformance(t *testing.T) {
	srv := emulators.Azurite(t)
	bad := srv.Secret()
	// A well-formed key that is not the account's.
	bad["azurestoragekey"] = []byte("d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWs=")
	storagetest.Run(t, storagetest.Target{
		Open:           opener(srv),
		Credentials:    srv.Secret(),
		BadCredentials: bad,
	})
}

// opener opens providers on srv's containers with the suite's part and page sizes.
func opener(srv *emulators.AzureServer) func(*testing.T, string, storage.CredentialSource) storage.Provider {
	return func(t *testing.T, bucket string, creds storage.CredentialSource) storage.Provider {
		p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeAzure, Bucket: bucket}, storage.Config{
			Credentials: creds, Insecure: true, AzureEndpoint: srv.Endpoint,
			PartSize: storagetest.PartSize, ListPageSize: storagetest.ListPageSize,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
}
