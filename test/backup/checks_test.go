package backup_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// syncedFalse waits for Synced=False with a message containing every part.
func (e *env) syncedFalse(name, reason string, parts ...string) *v1alpha1.CassandraBackup {
	e.t.Helper()
	return e.waitFor(name, "Synced=False/"+reason+" with "+strings.Join(parts, ", "), func(b *v1alpha1.CassandraBackup) bool {
		c := condition(b, "Synced")
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(c.Message, p) {
				return false
			}
		}
		return true
	})
}

// oneWarning checks that the backup got exactly one warning event over a few retries.
func (e *env) oneWarning(name string) {
	e.t.Helper()
	end := time.Now().Add(deadline)
	for {
		var warnings []corev1.Event
		for _, ev := range e.events(name) {
			if ev.Type == corev1.EventTypeWarning {
				warnings = append(warnings, ev)
			}
		}
		if len(warnings) == 1 && warnings[0].Count <= 1 {
			// Long enough for several retries with backoff (MaxSecretBackoff is 2s here).
			time.Sleep(5 * time.Second)
			var again int
			for _, ev := range e.events(name) {
				if ev.Type == corev1.EventTypeWarning {
					again += int(ev.Count)
				}
			}
			if again != 1 {
				e.t.Errorf("backup %s: %d warning events after retries, want 1", name, again)
			}
			return
		}
		if len(warnings) > 1 || time.Now().After(end) {
			e.t.Fatalf("backup %s: warning events %+v, want exactly 1", name, warnings)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// TestValidation turns each of the guide's rules into its condition and one event, and
// a late Secret into a backup that proceeds.
func TestValidation(t *testing.T) {
	e := newEnv(t, s3Server(t))
	n := e.startNode("dc1-a-0", "dc1", "a", 50, 20_000)
	e.startOperator(backup.Options{})

	t.Run("missing secret, created later", func(t *testing.T) {
		e.create("late-secret", spec("dc1", "late-1"))
		b := e.syncedFalse("late-secret", backup.ReasonSecretNotFound, "secret "+secretName+" not found", "create it")
		if b.Status.Snapshot != "" || n.posts.Load() != 0 {
			t.Fatalf("the backup started without its Secret: %+v", b.Status)
		}
		e.oneWarning("late-secret")
		e.secret(secretName, nil)
		e.waitFor("late-secret", "COMPLETED once the Secret exists", completed)
		e.noSecretIn("late-secret")
	})
	t.Run("awsendpoint without awsregion", func(t *testing.T) {
		e.secret("no-region", func(d map[string][]byte) { delete(d, "awsregion") })
		s := spec("dc1", "no-region-1")
		s.Secret = "no-region"
		e.create("no-region", s)
		e.syncedFalse("no-region", backup.ReasonInvalidSecret, "awsendpoint is specified but awsregion is not set", "fix the secret no-region")
		e.oneWarning("no-region")
		e.noSecretIn("no-region")
	})
	t.Run("only one AWS key", func(t *testing.T) {
		e.secret("half-keys", func(d map[string][]byte) { delete(d, "awsaccesskeyid") })
		s := spec("dc1", "half-1")
		s.Secret = "half-keys"
		e.create("half-keys", s)
		e.syncedFalse("half-keys", backup.ReasonInvalidSecret, "awssecretaccesskey but not awsaccesskeyid")
		e.noSecretIn("half-keys")
	})
	t.Run("azure without a secret", func(t *testing.T) {
		s := spec("dc1", "azure-1")
		s.StorageLocation, s.Secret = "azure://cassandra-bucket", ""
		e.create("azure-nosecret", s)
		e.syncedFalse("azure-nosecret", backup.ReasonInvalidSpec, "azurestorageaccount", "set spec.secret")
		e.oneWarning("azure-nosecret")
	})
	// Without the gcp key a backup uses Workload Identity, which this machine has not:
	// the check here is of a key that is not a service account's.
	t.Run("gcp key of a user", func(t *testing.T) {
		e.secret("gcp-user", func(d map[string][]byte) { d["gcp"] = []byte(`{"type":"authorized_user"}`) })
		s := spec("dc1", "gcp-1")
		s.StorageLocation, s.Secret = "gcp://cassandra-bucket", "gcp-user"
		e.create("gcp-user", s)
		e.syncedFalse("gcp-user", backup.ReasonInvalidSecret, `gcp JSON has type "authorized_user"`, "fix the secret gcp-user")
	})
	t.Run("bad entities", func(t *testing.T) {
		s := spec("dc1", "entities-1")
		s.Entities = "ks1.t1.x"
		e.create("bad-entities", s)
		e.syncedFalse("bad-entities", backup.ReasonInvalidSpec, "spec.entities")
	})
	t.Run("no pods", func(t *testing.T) {
		e.create("no-pods", spec("dc9", "nopods-1"))
		e.syncedFalse("no-pods", backup.ReasonNoPods, "datacenter=dc9")
		e.oneWarning("no-pods")
	})
	t.Run("snapshot tag of another backup", func(t *testing.T) {
		e.create("reuse", spec("dc1", "late-1"))
		e.syncedFalse("reuse", backup.ReasonSnapshotTagInUse, "already used by CassandraBackup "+e.ns+"/late-secret", "choose a new snapshotTag")
		e.oneWarning("reuse")
	})
	t.Run("snapshot tag in the bucket", func(t *testing.T) {
		if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx(), "late-secret", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitGone("late-secret")
		e.create("reuse-bucket", spec("dc1", "late-1"))
		e.syncedFalse("reuse-bucket", backup.ReasonSnapshotTagInUse, "already in the bucket")
	})
	if got := n.posts.Load(); got != 1 {
		t.Errorf("the node got %d operations; only the backup with a valid spec should have run", got)
	}
}
