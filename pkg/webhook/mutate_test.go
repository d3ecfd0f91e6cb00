package webhook

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

var testTokens = []string{"-9223372036854775808", "-3074457345618258603", "3074457345618258602"}

func testDC(restoring bool) *v1alpha1.CassandraDataCenter {
	dc := &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: "test-dc-cassandra", Namespace: "ns", UID: "dc-uid"},
		Spec:       v1alpha1.CassandraDataCenterSpec{Cluster: "clone", Datacenter: "dc1"},
	}
	if restoring {
		dc.Spec.Restore = &v1alpha1.RestoreSpec{BackupName: "b1"}
	}
	return dc
}

// completedDC is a restoring datacenter whose restore of b1 is COMPLETED.
func completedDC(change ...func(*v1alpha1.CassandraDataCenter)) *v1alpha1.CassandraDataCenter {
	dc := testDC(true)
	dc.Status.Restore = &v1alpha1.RestoreStatus{BackupName: "b1", State: v1alpha1.RestoreCompleted}
	for _, c := range change {
		c(dc)
	}
	return dc
}

func testPlan(t testing.TB, dc *v1alpha1.CassandraDataCenter, backup string) *plan.Plan {
	t.Helper()
	p := &plan.Plan{
		Restore: v1alpha1.RestoreSpec{BackupName: backup}, Backup: backup,
		StorageLocation: "s3://cassandra-bucket", SnapshotTag: "tag1",
		SourceCluster: "test-cluster", SourceDatacenter: "dc1", Secret: "cloud-backup-secrets", Insecure: true,
		Pods: map[string]plan.PodPlan{
			"cassandra-test-dc-cassandra-rack1-0": {SourceNode: "cassandra-src-rack1-0", Rack: "rack1", HostID: "11111111-2222-3333-4444-555555555555",
				RestoreKey: "s3://cassandra-bucket|test-cluster/dc1/11111111-2222-3333-4444-555555555555/manifests/tag1-x-1.json", Tokens: testTokens},
		},
	}
	cm, err := p.ConfigMap(dc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := plan.Decode(cm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type podOpt func(*corev1.Pod)

func testPod(name string, opts ...podOpt) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{informers.LabelDatacenter: "dc1"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "sidecar", Image: "agent"},
				{Name: "cassandra", Image: "cassandra:4.1", VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/cassandra"},
					{Name: "data-volume", MountPath: "/var/lib/cassandra"},
				}},
			},
			Volumes: []corev1.Volume{{Name: "data-volume"}, {Name: "config"}},
		},
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

// apply applies d's patch to pod and returns the result.
func apply(t *testing.T, pod *corev1.Pod, d Decision) *corev1.Pod {
	t.Helper()
	raw, err := d.PatchJSON()
	if err != nil {
		t.Fatal(err)
	}
	if raw == nil {
		return pod
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatalf("decode patch %s: %v", raw, err)
	}
	doc, _ := json.Marshal(pod)
	out, err := patch.Apply(doc)
	if err != nil {
		t.Fatalf("apply patch %s: %v", raw, err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func envOf(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func TestMutate(t *testing.T) {
	const planned = "cassandra-test-dc-cassandra-rack1-0"
	cfg := Config{AgentImage: "cassandra-backup-agent:test"}
	notReady := testDC(true)
	notReady.Status.Restore = &v1alpha1.RestoreStatus{Conditions: []metav1.Condition{{Type: reconciler.TypeReady, Status: metav1.ConditionFalse, Reason: "BackupNotCompleted", Message: "backup b1 is RUNNING"}}}

	tests := []struct {
		name    string
		pod     *corev1.Pod
		dc      *v1alpha1.CassandraDataCenter
		plan    func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan
		allowed bool
		patched bool
		message string // substring of the decision's message
		check   func(t *testing.T, pod *corev1.Pod, d Decision)
	}{
		{name: "pod of no datacenter", pod: testPod(planned), dc: nil, allowed: true},
		{name: "datacenter without restore", pod: testPod(planned), dc: testDC(false), allowed: true},
		{name: "plan missing", pod: testPod(planned), dc: notReady, allowed: false, message: "restore plan is not ready: backup b1 is RUNNING"},
		{name: "plan for another backup", pod: testPod(planned), dc: testDC(true),
			plan:    func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b0") },
			allowed: false, message: "it is for backup b0"},
		{name: "pod beyond the backup", pod: testPod("cassandra-test-dc-cassandra-rack1-3"), dc: testDC(true),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true, message: "no source node"},
		{name: "no data volume", pod: testPod(planned, func(p *corev1.Pod) { p.Spec.Containers[1].VolumeMounts = p.Spec.Containers[1].VolumeMounts[:1] }), dc: testDC(true),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: false, message: "mounts no volume over the data directory"},
		{name: "restore completed: a recreated pod is admitted unchanged", pod: testPod(planned), dc: completedDC(),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true,
			message: "is COMPLETED", check: func(t *testing.T, _ *corev1.Pod, d Decision) {
				if d.EventReason != ReasonRestoreCompletedPodUnchanged {
					t.Errorf("event reason %q", d.EventReason)
				}
			}},
		{name: "completed for another backup: injected", pod: testPod(planned), dc: completedDC(func(dc *v1alpha1.CassandraDataCenter) { dc.Status.Restore.BackupName = "b0" }),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true, patched: true},
		{name: "already injected", pod: testPod(planned, func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "restore"}} }), dc: testDC(true),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true},
		{name: "bare pod", pod: testPod(planned), dc: testDC(true),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true, patched: true,
			check: func(t *testing.T, pod *corev1.Pod, d Decision) {
				if len(pod.Spec.InitContainers) != 1 {
					t.Fatalf("init containers: %+v", pod.Spec.InitContainers)
				}
				ic := pod.Spec.InitContainers[0]
				want := []string{"restore", "--storage-location=s3://cassandra-bucket", "--snapshot-tag=tag1", "--cluster=test-cluster", "--dc=dc1",
					"--host-id=11111111-2222-3333-4444-555555555555",
					"--manifest-key=test-cluster/dc1/11111111-2222-3333-4444-555555555555/manifests/tag1-x-1.json", "--new-cluster", "--data-dir=/var/lib/cassandra/data",
					"--commitlog-dir=/var/lib/cassandra/commitlog", "--hints-dir=/var/lib/cassandra/hints", "--saved-caches-dir=/var/lib/cassandra/saved_caches",
					"--tokens-file=/var/lib/cassandra/restore-tokens.yaml", "--marker-file=/var/lib/cassandra/data/restore_done",
					"--k8s-secret-name=cloud-backup-secrets", "--insecure", "--status-listen=:4567"}
				if ic.Name != "restore" || ic.Image != "cassandra-backup-agent:test" || !slices.Equal(ic.Command, []string{"cassandra-backup-agent"}) || !slices.Equal(ic.Args, want) {
					t.Errorf("init container %s %s %v %v", ic.Name, ic.Image, ic.Command, ic.Args)
				}
				if len(ic.VolumeMounts) != 1 || ic.VolumeMounts[0].Name != "data-volume" || ic.VolumeMounts[0].MountPath != "/var/lib/cassandra" || ic.VolumeMounts[0].ReadOnly {
					t.Errorf("init container mounts %+v", ic.VolumeMounts)
				}
				if e, _ := envOf(ic, "POD_NAME"); e.ValueFrom == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
					t.Errorf("POD_NAME %+v", e)
				}
				if e, _ := envOf(ic, "POD_NAMESPACE"); e.ValueFrom == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
					t.Errorf("POD_NAMESPACE %+v", e)
				}
				if ic.Resources.Requests.Cpu().String() != "100m" || ic.Resources.Requests.Memory().String() != "128Mi" {
					t.Errorf("resources %+v", ic.Resources)
				}
				if ic.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
					t.Errorf("termination message policy %q", ic.TerminationMessagePolicy)
				}
				c := pod.Spec.Containers[1]
				e, ok := envOf(c, EnvRestoreJVMOptions)
				if !ok || e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil || e.ValueFrom.ConfigMapKeyRef.Name != "test-dc-cassandra-restore-plan" || e.ValueFrom.ConfigMapKeyRef.Key != planned+".jvmOptions" {
					t.Errorf("%s: %+v", EnvRestoreJVMOptions, e)
				}
				if e, _ := envOf(c, "JVM_EXTRA_OPTS"); e.Value != "$(CASSANDRA_RESTORE_JVM_OPTS)" {
					t.Errorf("JVM_EXTRA_OPTS %+v", e)
				}
				if e, _ := envOf(c, EnvTokensFile); e.Value != "/var/lib/cassandra/restore-tokens.yaml" {
					t.Errorf("%s %+v", EnvTokensFile, e)
				}
				if len(pod.Spec.Containers[0].Env) != 0 {
					t.Errorf("sidecar changed: %+v", pod.Spec.Containers[0].Env)
				}
				if pod.Annotations[plan.AnnotationSourceNode] != "cassandra-src-rack1-0" || !strings.HasPrefix(pod.Annotations[plan.AnnotationRestoreKey], "s3://cassandra-bucket|") {
					t.Errorf("annotations %v", pod.Annotations)
				}
			}},
		{name: "pod with init containers, env and annotations", dc: testDC(true),
			pod: testPod(planned, func(p *corev1.Pod) {
				p.Annotations = map[string]string{"a": "b", plan.AnnotationSourceNode: "stale"}
				p.Spec.InitContainers = []corev1.Container{{Name: "fix-permissions", Image: "busybox"}}
				p.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "MAX_HEAP_SIZE", Value: "1G"}, {Name: "JVM_EXTRA_OPTS", Value: "-Dfoo=1"}}
			}),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true, patched: true,
			check: func(t *testing.T, pod *corev1.Pod, d Decision) {
				if len(pod.Spec.InitContainers) != 2 || pod.Spec.InitContainers[0].Name != "fix-permissions" || pod.Spec.InitContainers[1].Name != "restore" {
					t.Errorf("init containers %+v", pod.Spec.InitContainers)
				}
				env := pod.Spec.Containers[1].Env
				var names []string
				for _, e := range env {
					names = append(names, e.Name)
				}
				if !slices.Equal(names, []string{EnvRestoreJVMOptions, "MAX_HEAP_SIZE", "JVM_EXTRA_OPTS", EnvTokensFile}) {
					t.Errorf("env order %v", names)
				}
				if e, _ := envOf(pod.Spec.Containers[1], "JVM_EXTRA_OPTS"); e.Value != "-Dfoo=1 $(CASSANDRA_RESTORE_JVM_OPTS)" {
					t.Errorf("JVM_EXTRA_OPTS %q", e.Value)
				}
				if pod.Annotations["a"] != "b" || pod.Annotations[plan.AnnotationSourceNode] != "cassandra-src-rack1-0" {
					t.Errorf("annotations %v", pod.Annotations)
				}
			}},
		{name: "JVM options from a reference", dc: testDC(true),
			pod: testPod(planned, func(p *corev1.Pod) {
				p.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "JVM_EXTRA_OPTS", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "x"}}}}
			}),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true, patched: true,
			check: func(t *testing.T, pod *corev1.Pod, d Decision) {
				if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "JVM_EXTRA_OPTS") {
					t.Errorf("warnings %v", d.Warnings)
				}
				if e, _ := envOf(pod.Spec.Containers[1], "JVM_EXTRA_OPTS"); e.ValueFrom == nil {
					t.Errorf("JVM_EXTRA_OPTS changed: %+v", e)
				}
			}},
		{name: "data volume over the data directory only", dc: testDC(true),
			pod: testPod(planned, func(p *corev1.Pod) {
				p.Spec.Containers[1].VolumeMounts[1] = corev1.VolumeMount{Name: "data-volume", MountPath: "/var/lib/cassandra/data/", SubPath: "cassandra"}
			}),
			plan: func(t *testing.T, dc *v1alpha1.CassandraDataCenter) *plan.Plan { return testPlan(t, dc, "b1") }, allowed: true, patched: true,
			check: func(t *testing.T, pod *corev1.Pod, d Decision) {
				ic := pod.Spec.InitContainers[0]
				for _, a := range []string{"--commitlog-dir=", "--hints-dir=", "--saved-caches-dir=", "--tokens-file=/var/lib/cassandra/data/restore-tokens.yaml"} {
					if !slices.Contains(ic.Args, a) {
						t.Errorf("args %v lack %s", ic.Args, a)
					}
				}
				if ic.VolumeMounts[0].SubPath != "cassandra" {
					t.Errorf("mount %+v", ic.VolumeMounts[0])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plan *plan.Plan
			if tt.plan != nil {
				plan = tt.plan(t, tt.dc)
			}
			before, _ := json.Marshal(tt.pod)
			d := Mutate(tt.pod, tt.dc, plan, cfg)
			if after, _ := json.Marshal(tt.pod); string(after) != string(before) {
				t.Fatal("Mutate changed its argument")
			}
			if d.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (%s)", d.Allowed, tt.allowed, d.Message)
			}
			if !strings.Contains(d.Message, tt.message) {
				t.Errorf("message %q does not say %q", d.Message, tt.message)
			}
			if (len(d.Patch) > 0) != tt.patched {
				t.Fatalf("patch %+v, want patched=%v", d.Patch, tt.patched)
			}
			if !tt.patched {
				return
			}
			got := apply(t, tt.pod, d)
			// No token and no secret content in the pod: only references.
			raw, _ := json.Marshal(got)
			for _, tok := range testTokens {
				if strings.Contains(string(raw), tok) {
					t.Errorf("token %s copied into the pod spec", tok)
				}
			}
			if tt.check != nil {
				tt.check(t, got, d)
			}
			// Idempotent: a second pass changes nothing.
			again := Mutate(got, tt.dc, plan, cfg)
			if !again.Allowed || len(again.Patch) != 0 {
				t.Errorf("second pass: %+v", again)
			}
		})
	}
}

func TestJVMOptions(t *testing.T) {
	if got := plan.JVMOptions([]string{"1", "2"}); got != "-Dcassandra.initial_token=1,2 -Dcassandra.auto_bootstrap=false" {
		t.Errorf("JVMOptions = %q", got)
	}
}

// TestMutateSecurityContext: the init container runs as the Cassandra container's user and
// group (its own securityContext, else the pod's) with what the restricted Pod Security
// Standard asks of every container.
func TestMutateSecurityContext(t *testing.T) {
	const planned = "cassandra-test-dc-cassandra-rack1-0"
	cfg := Config{AgentImage: "cassandra-backup-agent:test"}
	dc := testDC(true)
	p := testPlan(t, dc, "b1")
	id := func(v int64) *int64 { return &v }
	runtimeDefault := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	tests := []struct {
		name          string
		pod           *corev1.Pod
		user, group   *int64 // want
		nonRoot       bool   // want runAsNonRoot: true (else unset)
		seccomp       *corev1.SeccompProfile
		podSecurity   *corev1.PodSecurityContext
		cassandraOnly *corev1.SecurityContext
	}{
		{name: "container-level ids",
			cassandraOnly: &corev1.SecurityContext{RunAsUser: id(999), RunAsGroup: id(998)},
			user:          id(999), group: id(998), nonRoot: true, seccomp: runtimeDefault},
		{name: "pod-level ids",
			podSecurity: &corev1.PodSecurityContext{RunAsUser: id(1001), RunAsGroup: id(1002), FSGroup: id(1003)},
			user:        id(1001), group: id(1002), nonRoot: true, seccomp: runtimeDefault},
		{name: "container-level ids win over the pod's, field by field",
			podSecurity:   &corev1.PodSecurityContext{RunAsUser: id(1001), RunAsGroup: id(1002)},
			cassandraOnly: &corev1.SecurityContext{RunAsUser: id(999)},
			user:          id(999), group: id(1002), nonRoot: true, seccomp: runtimeDefault},
		{name: "no ids: the image's non-root user", nonRoot: true, seccomp: runtimeDefault},
		{name: "pod-level seccomp profile applies",
			podSecurity: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: runtimeDefault},
			nonRoot:     true},
		{name: "root stays root",
			cassandraOnly: &corev1.SecurityContext{RunAsUser: id(0)},
			user:          id(0), seccomp: runtimeDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod(planned, func(p *corev1.Pod) {
				p.Spec.SecurityContext = tt.podSecurity
				p.Spec.Containers[1].SecurityContext = tt.cassandraOnly
				// The sidecar's ids must not be taken.
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: id(4242), RunAsGroup: id(4242)}
			})
			d := Mutate(pod, dc, p, cfg)
			if !d.Allowed || len(d.Patch) == 0 {
				t.Fatalf("decision %+v", d)
			}
			got := apply(t, pod, d)
			sc := got.Spec.InitContainers[0].SecurityContext
			if sc == nil {
				t.Fatal("init container has no securityContext")
			}
			if !ptr.Equal(sc.RunAsUser, tt.user) || !ptr.Equal(sc.RunAsGroup, tt.group) {
				t.Errorf("runAsUser %v runAsGroup %v, want %v %v", ptr.Deref(sc.RunAsUser, -1), ptr.Deref(sc.RunAsGroup, -1), ptr.Deref(tt.user, -1), ptr.Deref(tt.group, -1))
			}
			if tt.nonRoot != ptr.Deref(sc.RunAsNonRoot, false) || (!tt.nonRoot && sc.RunAsNonRoot != nil) {
				t.Errorf("runAsNonRoot %v, want %v", sc.RunAsNonRoot, tt.nonRoot)
			}
			if (sc.SeccompProfile == nil) != (tt.seccomp == nil) || (sc.SeccompProfile != nil && sc.SeccompProfile.Type != tt.seccomp.Type) {
				t.Errorf("seccompProfile %+v, want %+v", sc.SeccompProfile, tt.seccomp)
			}
			if ptr.Deref(sc.AllowPrivilegeEscalation, true) {
				t.Errorf("allowPrivilegeEscalation %v", sc.AllowPrivilegeEscalation)
			}
			if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("capabilities %+v", sc.Capabilities)
			}
			if !ptr.Deref(sc.ReadOnlyRootFilesystem, false) {
				t.Errorf("readOnlyRootFilesystem %v", sc.ReadOnlyRootFilesystem)
			}
			if sc.Privileged != nil || sc.ProcMount != nil || sc.SELinuxOptions != nil {
				t.Errorf("unexpected fields %+v", sc)
			}
			// The user's containers are left as they were.
			if a, b := mustJSON(t, got.Spec.Containers[1].SecurityContext), mustJSON(t, pod.Spec.Containers[1].SecurityContext); a != b {
				t.Errorf("Cassandra container's securityContext changed: %s, was %s", a, b)
			}
			if a, b := mustJSON(t, got.Spec.SecurityContext), mustJSON(t, pod.Spec.SecurityContext); a != b {
				t.Errorf("pod's securityContext changed: %s, was %s", a, b)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
