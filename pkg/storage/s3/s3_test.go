package s3_test

import (
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// TestConformance runs the suite twice: with files sent in parts (an upload cutoff of one
// part, as the suite's sizes need to exercise multipart uploads), and with files up to the
// cutoff sent as one request, the default for objects of these sizes.
func TestConformance(t *testing.T) {
	srv := emulators.S3(t)
	bad := srv.Secret()
	bad["awssecretaccesskey"] = []byte("wrong-secret-key-0123456789")
	for _, c := range []struct {
		name   string
		cutoff int64
	}{{"multipart", storagetest.PartSize}, {"single", 0}} {
		t.Run(c.name, func(t *testing.T) {
			storagetest.Run(t, storagetest.Target{
				Open: func(t *testing.T, bucket string, creds storage.CredentialSource) storage.Provider {
					p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeS3, Bucket: bucket}, storage.Config{
						Credentials: creds, Insecure: true, PartSize: storagetest.PartSize, UploadCutoff: c.cutoff,
						ListPageSize: storagetest.ListPageSize,
					})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { p.Close() })
					return p
				},
				Credentials:    srv.Secret(),
				BadCredentials: bad,
			})
		})
	}
}
