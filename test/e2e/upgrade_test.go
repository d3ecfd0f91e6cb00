package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/e2e/guide"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// TestOperatorUpgradeMidRestore replaces the operator binary of one release with the
// next release's in the middle of a restore, as a rolling update of the Deployment does:
// the old operator plans the restore and admits the first pod, which restores; then it
// stops with two pods still to come; the new operator admits them from the same plan.
// The restore completes exactly once per pod (the plan is not made again, every pod
// restores the key it was admitted with, one PodRestored event per pod) and byte for byte.
func TestOperatorUpgradeMidRestore(t *testing.T) {
	const oldVersion, newVersion = "v0.1.0", "v0.2.0"
	cpA := controlplane.Shared(t)
	cpB, err := controlplane.Start(context.Background(), controlplane.Options{})
	if err != nil {
		t.Fatalf("second control plane: %v", err)
	}
	t.Cleanup(cpB.Stop)
	agentBin := podrunner.BuildAgent(t)
	oldBin := controlplane.GoBuild(t, "./cmd/cassandra-backup-operator", "-ldflags", version.LDFlags(oldVersion, "old"))
	newBin := controlplane.GoBuild(t, "./cmd/cassandra-backup-operator", "-ldflags", version.LDFlags(newVersion, "new"))
	_, ctx := ktesting.NewTestContext(t)
	prof := profile.InstaclustrProfile

	w := backUpInA(t, ctx, cpA, agentBin, newBin, providers[0], prof)
	bEnv, metricsURL, old := startB(t, ctx, cpB, agentBin, oldBin, w)
	metricsAddr := strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), "/metrics")
	req := ourRequest(bEnv, prof)
	kubectl(t, cpB, []byte(req.yaml), "apply", "-n", bEnv.Namespace, "-f", "-")
	dc := waitRestore(t, ctx, req, bEnv.Namespace, "the restore plan", func(r *v1alpha1.RestoreStatus) bool { return r.State == v1alpha1.RestorePlanned })
	cms := bEnv.Kube.CoreV1().ConfigMaps(bEnv.Namespace)
	before, err := cms.Get(ctx, plan.ConfigMapName(dc.Name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runner := newRunner(t, ctx, bEnv, agentBin, w.network)
	restored := restorePod(t, ctx, bEnv, runner, prof, dc, w.nodes[0], w.secret)
	first := restore.ProfilePodName(prof)(dc, w.nodes[0].Rack, 0)
	mid := waitRestore(t, ctx, req, bEnv.Namespace, "the old operator to see "+first+" restored", func(r *v1alpha1.RestoreStatus) bool {
		done := 0
		for _, n := range r.Nodes {
			if n.State == v1alpha1.RestoreCompleted {
				done++
			}
		}
		return done == 1 && len(r.Nodes) == 3
	})
	old.Stop()
	if mid.Status.Restore.State == v1alpha1.RestoreCompleted {
		t.Fatalf("the restore is COMPLETED when the old operator stopped: %+v", mid.Status.Restore)
	}

	startOperator(t, ctx, bEnv, newBin)
	if err := guide.Poll(ctx, "the new operator's build_info", deadline, func() (bool, error) {
		v := controlplane.ScrapeBuildInfo(metricsAddr)["version"]
		return v == newVersion, fmt.Errorf("version %q", v)
	}); err != nil {
		t.Fatal(err)
	}
	for _, src := range w.nodes[1:] {
		restored += restorePod(t, ctx, bEnv, runner, prof, dc, src, w.secret)
	}
	end := waitRestore(t, ctx, req, bEnv.Namespace, "the restore to complete", allCompleted(3))

	after, err := cms.Get(ctx, before.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the new operator rewrote the plan %s (resourceVersion %s → %s)", before.Name, before.ResourceVersion, after.ResourceVersion)
	}
	for _, n := range end.Status.Restore.Nodes {
		if n.Message != "restored" {
			t.Errorf("pod %s: %q, want restored with the plan it was admitted with", n.Pod, n.Message)
		}
	}
	events, err := bEnv.Kube.CoreV1().Events(bEnv.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restoredEvents := map[string]int32{}
	for _, e := range events.Items {
		if e.Reason == "PodRestored" && e.InvolvedObject.Name == dc.Name && e.Type == corev1.EventTypeNormal {
			for _, n := range end.Status.Restore.Nodes {
				if containsWord(e.Message, n.Pod) {
					restoredEvents[n.Pod] += max(e.Count, 1)
				}
			}
		}
	}
	for _, n := range end.Status.Restore.Nodes {
		if restoredEvents[n.Pod] != 1 {
			t.Errorf("pod %s: %d PodRestored events, want exactly 1 (events %v)", n.Pod, restoredEvents[n.Pod], restoredEvents)
		}
	}
	t.Logf("restored %d bytes byte-identical over 3 pods across the upgrade %s → %s", restored, oldVersion, newVersion)
}

// containsWord reports whether msg has word as a whole space-separated word.
func containsWord(msg, word string) bool {
	for _, f := range strings.Fields(msg) {
		if f == word {
			return true
		}
	}
	return false
}
