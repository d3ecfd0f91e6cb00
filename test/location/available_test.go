package location_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/location"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

func spec(where, secret string) v1alpha1.CassandraBackupLocationSpec {
	return v1alpha1.CassandraBackupLocationSpec{BackupStorage: v1alpha1.BackupStorage{StorageLocation: where, Secret: secret, Insecure: true}}
}

// A location on versitygw is Available; a bad key is BadCredentials, a missing bucket
// BucketMissing, a TLS endpoint that is not trusted TLS; a change of the Secret flips
// Available both ways without a change of the location; the probe leaves nothing behind.
func TestAvailableS3(t *testing.T) {
	e := newEnv(t)
	s3 := emulators.S3(t)
	s3.CreateBucket(t, "locations")
	e.secret("good", s3.Secret())
	bad := s3.Secret()
	bad["awssecretaccesskey"] = []byte("not-the-key")
	e.secret("bad", bad)
	e.start(location.Options{})

	e.location("good", spec("s3://locations", "good"))
	e.location("bad", spec("s3://locations", "bad"))
	e.location("missing", spec("s3://no-such-bucket", "good"))
	e.location("nosecret", spec("s3://locations", "absent"))
	l := e.waitAvailable("good", metav1.ConditionTrue, v1alpha1.LocationReasonAvailable)
	if l.Status.LastCheckTime == nil {
		t.Error("no lastCheckTime")
	}
	e.waitAvailable("bad", metav1.ConditionFalse, v1alpha1.LocationReasonBadCredentials)
	e.waitAvailable("missing", metav1.ConditionFalse, v1alpha1.LocationReasonBucketMissing)
	e.waitAvailable("nosecret", metav1.ConditionFalse, v1alpha1.LocationReasonBadCredentials)

	e.updateSecret("good", bad)
	e.waitAvailable("good", metav1.ConditionFalse, v1alpha1.LocationReasonBadCredentials)
	e.updateSecret("good", s3.Secret())
	e.waitAvailable("good", metav1.ConditionTrue, v1alpha1.LocationReasonAvailable)

	objects := 0
	for _, err := range openS3(t, s3).List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		objects++
	}
	if objects != 0 {
		t.Errorf("the probes left %d objects in the bucket", objects)
	}

	// A TLS server whose certificate nobody trusts, as the S3 endpoint.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	tlsSecret := s3.Secret()
	tlsSecret["awsendpoint"] = []byte(srv.URL)
	e.secret("tls", tlsSecret)
	tlsSpec := spec("s3://locations", "tls")
	tlsSpec.Insecure = false
	e.location("tls", tlsSpec)
	l = e.waitAvailable("tls", metav1.ConditionFalse, v1alpha1.LocationReasonTLS)
	for _, c := range l.Status.Conditions {
		for _, v := range [][]byte{s3.Secret()["awssecretaccesskey"], bad["awssecretaccesskey"]} {
			if strings.Contains(c.Message, string(v)) {
				t.Errorf("condition %s prints a secret", c.Type)
			}
		}
	}
}

// Azurite and fake-gcs-server: Available, and BadCredentials (a wrong Azure key) and
// BucketMissing (a GCS bucket that does not exist).
func TestAvailableAzureGCS(t *testing.T) {
	e := newEnv(t)
	az, gcs := emulators.Azurite(t), emulators.GCS(t)
	az.CreateContainer(t, "locations")
	gcs.CreateBucket(t, "locations")
	e.secret("azure", az.Secret())
	badAz := az.Secret()
	badAz["azurestoragekey"] = []byte("bm90LXRoZS1rZXk=")
	e.secret("azure-bad", badAz)
	e.start(location.Options{Storage: storage.Config{AzureEndpoint: az.Endpoint, GCSEndpoint: gcs.Endpoint}})

	e.location("azure", spec("azure://locations", "azure"))
	e.location("azure-bad", spec("azure://locations", "azure-bad"))
	e.location("gcs", spec("gcp://locations", ""))
	e.location("gcs-missing", spec("gcp://no-such-bucket", ""))
	e.waitAvailable("azure", metav1.ConditionTrue, v1alpha1.LocationReasonAvailable)
	e.waitAvailable("azure-bad", metav1.ConditionFalse, v1alpha1.LocationReasonBadCredentials)
	e.waitAvailable("gcs", metav1.ConditionTrue, v1alpha1.LocationReasonAvailable)
	e.waitAvailable("gcs-missing", metav1.ConditionFalse, v1alpha1.LocationReasonBucketMissing)
}

// openS3 opens the emulator's bucket "locations" through pkg/storage.
func openS3(t *testing.T, s3 *emulators.S3Server) storage.Provider {
	t.Helper()
	creds := storage.NewCredentials(s3.Secret())
	p, _, err := storage.OpenLocation(context.Background(), "s3://locations", storage.Config{Insecure: true,
		Credentials: storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) { return creds, nil })})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
