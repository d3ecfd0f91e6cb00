package restore_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// enforceRestricted labels the namespace so that kube-apiserver's built-in PodSecurity
// admission enforces the "restricted" Pod Security Standard, and checks that it does.
func (e *env) enforceRestricted() {
	e.t.Helper()
	patch := `{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/enforce-version":"latest"}}}`
	if _, err := e.kube.CoreV1().Namespaces().Patch(e.ctx, e.ns, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
	// A pod no webhook touches, with no securityContext, is rejected: the plugin is on.
	e.poll("PodSecurity to enforce restricted", func() (bool, error) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "not-restricted"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
		_, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, pod, metav1.CreateOptions{})
		if err == nil {
			e.kube.CoreV1().Pods(e.ns).Delete(e.ctx, pod.Name, metav1.DeleteOptions{})
			return false, fmt.Errorf("a pod without securityContext was admitted")
		}
		return strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`), err
	})
}

// restrictedPod is cassandraPod made to pass the restricted Pod Security Standard: every
// container drops all capabilities and cannot escalate privileges, the pod runs with a
// RuntimeDefault seccomp profile and as non-root, with the ids in pod (or in the Cassandra
// container, when cassandra is set).
func restrictedPod(name string, dc *v1alpha1.CassandraDataCenter, pod *corev1.PodSecurityContext, cassandra *corev1.SecurityContext) *corev1.Pod {
	p := cassandraPod(name, dc)
	p.Spec.SecurityContext = pod
	if p.Spec.SecurityContext == nil {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	p.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
	p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	for i := range p.Spec.Containers {
		sc := &corev1.SecurityContext{}
		if p.Spec.Containers[i].Name == "cassandra" && cassandra != nil {
			sc = cassandra.DeepCopy()
		}
		sc.AllowPrivilegeEscalation = ptr.To(false)
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		p.Spec.Containers[i].SecurityContext = sc
	}
	return p
}

// owners returns the uid:gid of every file and directory under dir (dir excluded).
func owners(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		out[p] = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreRestricted restores into a namespace that enforces the "restricted" Pod
// Security Standard: restricted-compliant Cassandra pods, mutated by the webhook, are
// admitted, the same pods with an init container without its securityContext are
// rejected, and the init container, run by the pod runner as the pod's or the Cassandra
// container's user and group, leaves the restored files owned by them.
func TestRestoreRestricted(t *testing.T) {
	e := newEnv(t, true)
	e.enforceRestricted()
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	const location = "s3://restore-restricted"
	var nodes []source
	for i := range 2 {
		n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: uint64(300 + i)})
		for _, tbl := range []string{"t1", "t2"} {
			if err := n.WriteSSTable("ks1", tbl, 5000+100*i); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, source{node: n, hostname: fmt.Sprintf("cassandra-src-rack1-%d", i)})
	}
	e.backup("backup-1", s3, location, "snap-1", nodes, v1alpha1.BackupCompleted)
	const cdc = "locked"
	dc := e.datacenter(cdc, "clone-cluster", 2, &v1alpha1.RestoreSpec{BackupName: "backup-1"})
	dc = e.waitRestore(cdc, "the plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && st.State == v1alpha1.RestorePlanned
	})

	// The agent reads the Secret through the API: it needs a kubeconfig its user can read.
	kdir, err := os.MkdirTemp("", "restricted-kubeconfig-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(kdir) })
	kc, err := os.ReadFile(e.cp.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(kdir, "kubeconfig")
	if err := os.Chmod(kdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, kc, 0o644); err != nil {
		t.Fatal(err)
	}
	runner := &podrunner.Runner{
		Kube:     e.kube,
		Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root:     t.TempDir(),
		Env:      []string{"AGENT_KUBECONFIG=" + kubeconfig},
		Network:  e.network,
	}
	t.Cleanup(runner.Close)

	id := func(v int64) *int64 { return &v }
	for i, tc := range []struct {
		name      string
		pod       *corev1.PodSecurityContext
		cassandra *corev1.SecurityContext
		owner     string // uid:gid of the restored files
	}{
		// The setgid volume of group 999 gives new files its group, which is also runAsGroup.
		{name: "pod-level ids", pod: &corev1.PodSecurityContext{RunAsUser: id(999), RunAsGroup: id(999), FSGroup: id(999)}, owner: "999:999"},
		{name: "container-level ids", cassandra: &corev1.SecurityContext{RunAsUser: id(1001), RunAsGroup: id(1002)}, owner: "1001:1002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("cassandra-%s-rack1-%d", cdc, i)
			var pod *corev1.Pod
			e.poll("pod "+name+" to be admitted", func() (bool, error) {
				var err error
				pod, err = e.kube.CoreV1().Pods(e.ns).Create(e.ctx, restrictedPod(name, dc, tc.pod, tc.cassandra), metav1.CreateOptions{})
				return err == nil, err
			})
			if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != plan.InitContainerName {
				t.Fatalf("admitted without the restore init container: %+v", pod.Spec.InitContainers)
			}
			sc, _ := json.Marshal(pod.Spec.InitContainers[0].SecurityContext)
			t.Logf("init container securityContext: %s", sc)

			// The same pod with the init container as the webhook injected it before it
			// set a securityContext: the webhook leaves it (already injected), and
			// PodSecurity rejects it.
			old := restrictedPod(name+"-old", dc, tc.pod, tc.cassandra)
			old.Spec.InitContainers = []corev1.Container{*pod.Spec.InitContainers[0].DeepCopy()}
			old.Spec.InitContainers[0].SecurityContext = nil
			_, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, old, metav1.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) || !strings.Contains(err.Error(), `container "restore"`) {
				t.Errorf("a pod whose init container has no securityContext: %v", err)
			}

			results, err := runner.RunInitContainers(e.ctx, pod)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 || results[0].ExitCode != 0 {
				t.Fatalf("init container of %s: %+v", pod.Name, results)
			}
			vol := filepath.Join(runner.Root, e.ns, pod.Name, "volumes", "data-volume")
			want, got := files(t, nodes[i].node.DataDirs()[0], restored), files(t, filepath.Join(vol, "data"), func(string) bool { return true })
			if len(want) == 0 || len(got) != len(want) {
				t.Errorf("restored %d files, source has %d", len(got), len(want))
			}
			own := owners(t, vol)
			if _, ok := own[filepath.Join(vol, "restore-tokens.yaml")]; !ok || len(own) < len(want) {
				t.Fatalf("volume holds %d entries, no tokens fragment or fewer than the %d files restored", len(own), len(want))
			}
			for p, o := range own {
				if o != tc.owner {
					t.Errorf("%s is owned by %s, want %s", strings.TrimPrefix(p, vol), o, tc.owner)
				}
			}
		})
	}
}
