package verify_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/verification"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
	"github.com/cassbackup/cassandra-backup-operator/test/verifyfixture"
)

// failureOn returns the status's failure naming key.
func failureOn(v *v1alpha1.CassandraBackupVerification, key string) (v1alpha1.VerificationFailure, bool) {
	for _, n := range v.Status.Nodes {
		for _, f := range n.Failures {
			if f.Key == key {
				return f, true
			}
		}
	}
	return v1alpha1.VerificationFailure{}, false
}

// TestDrillProviders verifies a good backup in each storage provider's emulator, then the
// same backup with one byte of one object corrupted and another object deleted.
func TestDrillProviders(t *testing.T) {
	for name, tgt := range map[string]func(*testing.T) target{"file": fileTarget, "s3": s3Target, "azure": azureTarget, "gcs": gcsTarget} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tgt(t))
			nodes := verifyfixture.Nodes(t, cluster, dc, 2)
			e.backup("nightly", "snap-1", nodes)
			p := e.provider()
			want := verifyfixture.Count(t, p, cluster, dc, "snap-1", nodes)

			e.drill("good", v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly"})
			v := e.wait("good", "the end", finished)
			var total int64
			for _, n := range v.Status.Nodes {
				if n.ObjectsVerified != want[n.Node] || n.ObjectsTotal != want[n.Node] || n.FailureCount != 0 || n.BytesVerified == 0 {
					t.Errorf("node %+v, manifest has %d objects", n, want[n.Node])
				}
				total += want[n.Node]
			}
			ready := meta.FindStatusCondition(v.Status.Conditions, reconciler.TypeReady)
			if v.Status.State != v1alpha1.VerificationCompleted || len(v.Status.Nodes) != 2 || v.Status.ObjectsVerified != total ||
				ready == nil || ready.Status != metav1.ConditionTrue || v.Status.PodName == "" || v.Status.CompletionTime == nil {
				t.Fatalf("status %+v", v.Status)
			}
			// The pod is deleted once its result is recorded.
			e.wait("good", "its pod deleted", func(v *v1alpha1.CassandraBackupVerification) bool {
				_, err := e.kube.CoreV1().Pods(e.ns).Get(context.Background(), v.Status.PodName, metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			})

			corrupt, _ := verifyfixture.Object(t, p, cluster, dc, "snap-1", nodes[0], "-Data.db")
			missing, _ := verifyfixture.Object(t, p, cluster, dc, "snap-1", nodes[1], "-Statistics.db")
			verifyfixture.Corrupt(t, p, corrupt)
			if err := p.Delete(context.Background(), missing); err != nil {
				t.Fatal(err)
			}
			e.drill("broken", v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly"})
			v = e.wait("broken", "the end", finished)
			if v.Status.State != v1alpha1.VerificationFailed || v.Status.FailureCount != 2 {
				t.Errorf("state %s, %d failures: %+v", v.Status.State, v.Status.FailureCount, v.Status)
			}
			if f, ok := failureOn(v, corrupt); !ok || !strings.Contains(f.Reason, "sha256") {
				t.Errorf("corrupt %s: %+v %v", corrupt, f, ok)
			}
			if f, ok := failureOn(v, missing); !ok || !strings.Contains(f.Reason, "missing") {
				t.Errorf("missing %s: %+v %v", missing, f, ok)
			}
			if ready := meta.FindStatusCondition(v.Status.Conditions, reconciler.TypeReady); ready == nil || ready.Reason != verification.ReasonVerificationFailed {
				t.Errorf("Ready %+v", ready)
			}
		})
	}
}

// TestDrillSample checks a tenth, the same tenth pkg/verify's Sampled picks.
func TestDrillSample(t *testing.T) {
	e := newEnv(t, fileTarget(t))
	nodes := verifyfixture.Nodes(t, cluster, dc, 3)
	e.backup("nightly", "snap-1", nodes)
	p := e.provider()
	var want, total int64
	for _, n := range nodes {
		node := layout.Node{Cluster: cluster, Datacenter: dc, HostID: n.HostID()}
		cat := layout.Catalog{Storage: p}
		ref, _, _ := cat.ManifestRef(e.ctx, node, "snap-1")
		cat.ScanManifestAt(e.ctx, ref.Key, func(f layout.File) error {
			total++
			if verify.Sampled(node.Key(f.ObjectKey), 0.1) {
				want++
			}
			return nil
		})
	}
	e.drill("tenth", v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly", Sample: "10%"})
	v := e.wait("tenth", "the end", finished)
	if v.Status.State != v1alpha1.VerificationCompleted || v.Status.ObjectsVerified != want || want == 0 || want > total/4 {
		t.Errorf("10%% of %d objects: verified %d, Sampled picks %d: %+v", total, v.Status.ObjectsVerified, want, v.Status)
	}
}

// TestDrillMissingTOCComponent backs up a node whose SSTable lost a component TOC.txt lists.
func TestDrillMissingTOCComponent(t *testing.T) {
	e := newEnv(t, fileTarget(t))
	nodes := verifyfixture.Nodes(t, cluster, dc, 1)
	ss, err := nodes[0].SSTables("ks2", "t3")
	if err != nil || len(ss) == 0 {
		t.Fatal(err)
	}
	var lost string
	for _, f := range ss[0].Files {
		if strings.HasSuffix(f.Name, "-Filter.db") {
			lost = f.Name
			removeFile(t, f.Path)
		}
	}
	e.backup("nightly", "snap-1", nodes)
	e.drill("toc", v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly"})
	v := e.wait("toc", "the end", finished)
	var found bool
	for _, n := range v.Status.Nodes {
		for _, f := range n.Failures {
			found = found || strings.HasSuffix(f.Key, "/"+lost) && strings.Contains(f.Reason, "TOC.txt")
		}
	}
	if v.Status.State != v1alpha1.VerificationFailed || !found {
		t.Errorf("lost %s: %+v", lost, v.Status)
	}
}

// TestDrillChunkChecksums backs up a node of each SSTable shape (uncompressed with
// CRC.db, compressed with CompressionInfo.db) whose Data.db has one byte flipped in a
// chunk while its SHA-256 and Digest agree with the damage: only the chunk check finds
// it, and the drill FAILS naming the object, the chunk and the component.
func TestDrillChunkChecksums(t *testing.T) {
	e := newEnv(t, fileTarget(t))
	nodes := verifyfixture.Nodes(t, cluster, dc, 2) // uncompressed, compressed
	var names []string
	for _, n := range nodes {
		names = append(names, verifyfixture.DamageChunk(t, n, 2*verifyfixture.ChunkLength+10))
	}
	e.backup("nightly", "snap-1", nodes)
	e.drill("chunks", v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly"})
	v := e.wait("chunks", "the end", finished)
	if v.Status.State != v1alpha1.VerificationFailed || v.Status.FailureCount != 2 || len(v.Status.Nodes) != 2 {
		t.Fatalf("state %s, %d failures: %+v", v.Status.State, v.Status.FailureCount, v.Status)
	}
	for i, n := range v.Status.Nodes {
		comp := []string{"CRC.db", "CompressionInfo.db"}[i]
		if len(n.Failures) != 1 || !strings.HasSuffix(n.Failures[0].Key, "/"+names[i]) ||
			!strings.Contains(n.Failures[0].Reason, "chunk ") || !strings.Contains(n.Failures[0].Reason, comp) {
			t.Errorf("node %s: %+v, want %s's chunk named with %s", n.Node, n.Failures, names[i], comp)
		}
	}
}

// TestDrillNotCompleted waits for a backup that is not COMPLETED, then runs once it is.
func TestDrillNotCompleted(t *testing.T) {
	e := newEnv(t, fileTarget(t))
	e.drill("early", v1alpha1.CassandraBackupVerificationSpec{BackupName: "later"})
	e.wait("early", "BackupNotReady", func(v *v1alpha1.CassandraBackupVerification) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, reconciler.TypeReady)
		return c != nil && c.Reason == verification.ReasonBackupNotReady && v.Status.PodName == ""
	})
	e.backup("later", "snap-1", verifyfixture.Nodes(t, cluster, dc, 1))
	v := e.wait("early", "the end", finished)
	if v.Status.State != v1alpha1.VerificationCompleted {
		t.Errorf("status %+v", v.Status)
	}
}

// TestDrillSchedule runs a drill every second and keeps a bounded history.
func TestDrillSchedule(t *testing.T) {
	e := newEnv(t, fileTarget(t))
	e.backup("nightly", "snap-1", verifyfixture.Nodes(t, cluster, dc, 1))
	limit := int32(2)
	e.drill("every", v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly", Schedule: "*/2 * * * * *", HistoryLimit: &limit})
	v := e.wait("every", "three runs", func(v *v1alpha1.CassandraBackupVerification) bool {
		return len(v.Status.History) == 2 && v.Status.History[0].StartTime.After(v.Status.History[1].StartTime.Time) &&
			e.ranCount() >= 3
	})
	for _, r := range v.Status.History {
		if r.State != v1alpha1.VerificationCompleted || r.ObjectsVerified == 0 {
			t.Errorf("run %+v", r)
		}
	}
	if v.Status.LastRun == nil || v.Status.NextRun == nil {
		t.Errorf("lastRun %v nextRun %v", v.Status.LastRun, v.Status.NextRun)
	}
}

func (e *env) ranCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ran)
}

// TestDrillAdoptsItsPod: the operator stopped after creating a run's pod and before
// recording it (the pod exists, status does not name it); the run adopts that pod and no
// second one runs.
func TestDrillAdoptsItsPod(t *testing.T) {
	e := newEnv(t, fileTarget(t))
	verifyfixture.Backup(t, e.tgt.location, "snap-1", e.tgt.secret, e.tgt.storage, verifyfixture.Nodes(t, cluster, dc, 1))
	e.drill("adopt", v1alpha1.CassandraBackupVerificationSpec{BackupName: "later"})
	v := e.wait("adopt", "BackupNotReady", func(v *v1alpha1.CassandraBackupVerification) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, reconciler.TypeReady)
		return c != nil && c.Reason == verification.ReasonBackupNotReady
	})
	name := schedule.RunName(v.Name, v.CreationTimestamp.Time)
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: e.ns}, Spec: e.backupSpec("snap-1")}
	pod := verification.Pod(v, b, name, verification.Options{Image: "ghcr.io/cassbackup/cassandra-backup-agent:test", ServiceAccount: "cassandra"})
	if _, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.backupObject("later", "snap-1")
	v = e.wait("adopt", "the end", finished)
	if v.Status.State != v1alpha1.VerificationCompleted || v.Status.PodName != name || e.ranCount() != 1 {
		t.Errorf("state %s, pod %s (want %s), %d pods ran", v.Status.State, v.Status.PodName, name, e.ranCount())
	}
}
