package agent

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// provider is a storage emulator with good and bad Secret data.
type provider struct {
	name      string
	location  string
	cfg       storage.Config
	good, bad map[string][]byte
	// refusal is what the error of a backup with bad credentials says.
	refusal []string
}

func emulatorProviders(t *testing.T) []provider {
	s3 := emulators.S3(t)
	s3bad := s3.Secret()
	s3bad["awssecretaccesskey"] = []byte("wrong-secret-key-0123456789")
	az := emulators.Azurite(t)
	azbad := az.Secret()
	azbad["azurestoragekey"] = []byte("d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWs=")
	gcs := emulators.GCS(t)
	return []provider{
		{name: "s3", location: "s3://agent-backups", good: s3.Secret(), bad: s3bad, refusal: []string{"403", "Forbidden"}},
		{name: "azure", location: "azure://agent-backups", cfg: storage.Config{AzureEndpoint: az.Endpoint}, good: az.Secret(), bad: azbad, refusal: []string{"403", "AuthorizationFailure"}},
		// fake-gcs-server checks no credentials: the bad Secret is one the provider refuses itself.
		{name: "gcs", location: "gcp://agent-backups", cfg: storage.Config{GCSEndpoint: gcs.Endpoint}, good: map[string][]byte{},
			bad: map[string][]byte{"gcp": []byte("not-json-private-key-0123456789")}, refusal: []string{"gcp", "JSON"}},
	}
}

func TestProvidersBackupRestoreAndCredentials(t *testing.T) {
	cp := controlplane.Shared(t)
	client, err := kubernetes.NewForConfig(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range emulatorProviders(t) {
		t.Run(p.name, func(t *testing.T) {
			ns := cp.Namespace(t)
			secrets := client.CoreV1().Secrets(ns)
			setSecret := func(data map[string][]byte) {
				t.Helper()
				s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cloud-backup-secrets", Namespace: ns}, Data: data}
				if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
					if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			setSecret(p.good)

			e := newEnv(t, fakecassandra.Config{})
			e.agent.Secrets = secret.Reader{Kube: client}.Source
			e.agent.Storage = p.cfg
			e.populate()
			request := func(tag string) api.Request {
				return api.Request{Type: api.TypeBackup, StorageLocation: p.location, SnapshotTag: tag, CreateMissingBucket: true,
					Insecure: true, K8sNamespace: ns, K8sSecretName: "cloud-backup-secrets", ConcurrentConnections: 4}
			}

			first := e.submit(request("b1"))
			if first.State != api.StateCompleted || first.BytesTransferred != first.BytesTotal {
				t.Fatalf("backup: %+v", first)
			}
			spec := e.restoreSpec("b1")
			spec.Request = request("b1")
			spec.Type = api.TypeRestore
			spec.Request.DataDirs = []string{t.TempDir()}
			ra := &Agent{Hostname: "restore", Secrets: secret.Reader{Kube: client}.Source, Storage: p.cfg}
			if _, err := ra.Restore(ctx, spec, &Tracker{}); err != nil {
				t.Fatal(err)
			}
			want, got := liveFiles(t, e.node.DataDirs(), all), liveFiles(t, spec.DataDirs, all)
			if len(got) != len(want) {
				t.Errorf("restored %d files, want %d", len(got), len(want))
			}
			for path, b := range want {
				if !bytes.Equal(got[path], b) {
					t.Errorf("%s differs after restore", path)
				}
			}

			second := e.submit(request("b2"))
			if second.State != api.StateCompleted || second.BytesTransferred != 0 || second.BytesSkipped != first.BytesTotal {
				t.Fatalf("second backup of unchanged data: %+v", second.Transfer)
			}

			// Rotated to wrong credentials: FAILED with the provider's message, no secret in it.
			setSecret(p.bad)
			failed := e.submit(request("b3"))
			if failed.State != api.StateFailed || len(failed.Errors) != 1 || failed.Progress >= 1 {
				t.Fatalf("backup with wrong credentials: %+v", failed)
			}
			msg := failed.Errors[0].Message
			for _, secret := range [][]byte{p.good["awssecretaccesskey"], p.bad["awssecretaccesskey"], p.good["azurestoragekey"], p.bad["azurestoragekey"]} {
				if len(secret) > 0 && strings.Contains(msg, string(secret)) {
					t.Errorf("error message leaks a secret: %s", msg)
				}
			}
			if len(p.bad["gcp"]) > 0 && strings.Contains(msg, string(p.bad["gcp"])) {
				t.Errorf("error message leaks a secret: %s", msg)
			}
			for _, r := range p.refusal {
				if !strings.Contains(msg, r) {
					t.Errorf("error does not carry the provider's refusal %q: %s", r, msg)
				}
			}
			if e.node.SnapshotExists("b3") {
				t.Error("snapshot left after a credentials failure")
			}

			// Rotated back: the next backup uses the new Secret content.
			setSecret(p.good)
			if again := e.submit(request("b4")); again.State != api.StateCompleted {
				t.Fatalf("backup after rotation: %+v", again)
			}
		})
	}
}
