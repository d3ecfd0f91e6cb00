package azure_test

import (
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// TestFaults: behind a proxy that answers about 11 % of requests 503 and 2 % 429, and
// resets about 7 % of connections mid-body, every operation succeeds.
func TestFaults(t *testing.T) {
	srv := emulators.Azurite(t)
	srv.CreateContainer(t, "faults")
	host := strings.SplitN(srv.ServiceURL(), "/", 4)[2]
	proxy := storagetest.StartFaultProxy(t, "http://"+host, storagetest.DefaultFaults)
	p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeAzure, Bucket: "faults"}, storage.Config{
		Credentials: storage.StaticCredentials(srv.Secret()), Insecure: true, PartSize: storagetest.PartSize,
		AzureEndpoint: proxy.URL + "/{account}",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	storagetest.CheckFaults(t, p, proxy)
}
