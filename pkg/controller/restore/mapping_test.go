package restore

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

func dcWith(nodes int32, racks ...string) *v1alpha1.CassandraDataCenter {
	dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "new"}, Spec: v1alpha1.CassandraDataCenterSpec{Nodes: &nodes}}
	for _, r := range racks {
		dc.Spec.Racks = append(dc.Spec.Racks, v1alpha1.Rack{Name: r})
	}
	return dc
}

func src(host, rack string) SourceNode {
	return SourceNode{Hostname: host, Rack: rack, HostID: "id-" + host}
}

func TestTargets(t *testing.T) {
	got := Targets(dcWith(5, "c", "a", "b"), 3, InstaclustrPodName)
	var names []string
	for _, tg := range got {
		names = append(names, tg.Pod)
	}
	want := "cassandra-new-a-0 cassandra-new-a-1 cassandra-new-b-0 cassandra-new-b-1 cassandra-new-c-0"
	if strings.Join(names, " ") != want {
		t.Errorf("targets %v, want %s", names, want)
	}
	noRacks := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	if got := Targets(noRacks, 2, InstaclustrPodName); len(got) != 2 || got[1].Pod != "cassandra-x-rack1-1" {
		t.Errorf("targets without nodes or racks: %+v", got)
	}
}

func TestMap(t *testing.T) {
	tests := []struct {
		name    string
		dc      *v1alpha1.CassandraDataCenter
		sources []SourceNode
		rackMap map[string]string
		want    map[string]string // pod → source hosts, joined by +
		err     error
		errText string
	}{
		{
			name: "same racks, ordinals sorted numerically",
			dc:   dcWith(6, "west1-b", "west1-a"),
			sources: []SourceNode{src("old-west1-a-10", "west1-a"), src("old-west1-b-0", "west1-b"), src("old-west1-a-2", "west1-a"),
				src("old-west1-b-1", "west1-b"), src("old-west1-a-1", "west1-a"), src("old-west1-b-2", "west1-b")},
			want: map[string]string{
				"cassandra-new-west1-a-0": "old-west1-a-1", "cassandra-new-west1-a-1": "old-west1-a-2", "cassandra-new-west1-a-2": "old-west1-a-10",
				"cassandra-new-west1-b-0": "old-west1-b-0", "cassandra-new-west1-b-1": "old-west1-b-1", "cassandra-new-west1-b-2": "old-west1-b-2",
			},
		},
		{
			name:    "scale-up beyond the backup keeps pairs and leaves new pods out",
			dc:      dcWith(4, "r1", "r2"),
			sources: []SourceNode{src("s-r1-0", "r1"), src("s-r2-0", "r2")},
			want:    map[string]string{"cassandra-new-r1-0": "s-r1-0", "cassandra-new-r2-0": "s-r2-0"},
		},
		{
			name:    "racks renamed: paired in sorted order",
			dc:      dcWith(2, "x", "y"),
			sources: []SourceNode{src("s-b-0", "b"), src("s-a-0", "a")},
			want:    map[string]string{"cassandra-new-x-0": "s-a-0", "cassandra-new-y-0": "s-b-0"},
		},
		{
			name:    "one rack into three",
			dc:      dcWith(3, "a", "b", "c"),
			sources: []SourceNode{src("s-r-2", "r"), src("s-r-0", "r"), src("s-r-1", "r")},
			want:    map[string]string{"cassandra-new-a-0": "s-r-0", "cassandra-new-b-0": "s-r-1", "cassandra-new-c-0": "s-r-2"},
		},
		{
			name:    "3 → 2 in one rack: two and one",
			dc:      dcWith(2, "a"),
			sources: []SourceNode{src("s-a-2", "a"), src("s-a-0", "a"), src("s-a-1", "a")},
			want:    map[string]string{"cassandra-new-a-0": "s-a-0+s-a-1", "cassandra-new-a-1": "s-a-2"},
		},
		{
			name: "6 → 3 over three racks: two each, racks kept",
			dc:   dcWith(3, "a", "b", "c"),
			sources: []SourceNode{src("s-c-1", "c"), src("s-a-0", "a"), src("s-b-0", "b"), src("s-c-0", "c"),
				src("s-a-1", "a"), src("s-b-1", "b")},
			want: map[string]string{"cassandra-new-a-0": "s-a-0+s-a-1", "cassandra-new-b-0": "s-b-0+s-b-1", "cassandra-new-c-0": "s-c-0+s-c-1"},
		},
		{
			name:    "6 → 3 with racks renamed: mapped in sorted order",
			dc:      dcWith(3, "x", "y", "z"),
			sources: []SourceNode{src("s-a-0", "a"), src("s-a-1", "a"), src("s-b-0", "b"), src("s-b-1", "b"), src("s-c-0", "c"), src("s-c-1", "c")},
			want:    map[string]string{"cassandra-new-x-0": "s-a-0+s-a-1", "cassandra-new-y-0": "s-b-0+s-b-1", "cassandra-new-z-0": "s-c-0+s-c-1"},
		},
		{
			name:    "fewer nodes, rack counts differ: spread over all pods",
			dc:      dcWith(2, "x", "y"),
			sources: []SourceNode{src("s-a-0", "a"), src("s-b-0", "b"), src("s-c-0", "c")},
			want:    map[string]string{"cassandra-new-x-0": "s-a-0+s-b-0", "cassandra-new-y-0": "s-c-0"},
		},
		{
			name:    "rackMap: explicit, crossing the sorted order",
			dc:      dcWith(2, "x", "y"),
			rackMap: map[string]string{"a": "y", "b": "x"},
			sources: []SourceNode{src("s-a-0", "a"), src("s-b-0", "b")},
			want:    map[string]string{"cassandra-new-y-0": "s-a-0", "cassandra-new-x-0": "s-b-0"},
		},
		{
			name:    "rackMap: two source racks into one target rack",
			dc:      dcWith(3, "x", "y"),
			rackMap: map[string]string{"a": "x", "b": "x", "c": "y"},
			sources: []SourceNode{src("s-a-0", "a"), src("s-b-0", "b"), src("s-c-0", "c"), src("s-c-1", "c")},
			want:    map[string]string{"cassandra-new-x-0": "s-a-0", "cassandra-new-x-1": "s-b-0", "cassandra-new-y-0": "s-c-0+s-c-1"},
		},
		{
			name:    "rackMap leaves a source rack out",
			dc:      dcWith(2, "x", "y"),
			rackMap: map[string]string{"a": "x"},
			sources: []SourceNode{src("s-a-0", "a"), src("s-b-0", "b")},
			err:     ErrRackUnmapped,
			errText: "no entry for the backup's rack b",
		},
		{
			name:    "rackMap names a rack the datacenter does not have",
			dc:      dcWith(2, "x", "y"),
			rackMap: map[string]string{"a": "x", "b": "w"},
			sources: []SourceNode{src("s-a-0", "a"), src("s-b-0", "b")},
			err:     ErrRackUnmapped,
			errText: "maps rack b to w, which is not a rack",
		},
		{
			name:    "a rack without pods: its nodes go where there is room",
			dc:      dcWith(1, "a", "b"),
			sources: []SourceNode{src("s-a-0", "a"), src("s-b-0", "b")},
			want:    map[string]string{"cassandra-new-a-0": "s-a-0+s-b-0"},
		},
		{
			name:    "no node at all",
			dc:      dcWith(0, "a"),
			sources: []SourceNode{src("s-a-0", "a")},
			err:     ErrTooFewNodes,
			errText: "no node to restore",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(Targets(tt.dc, len(tt.sources), InstaclustrPodName), tt.sources, MapOptions{RackMap: tt.rackMap})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("mapping %v, want %v", got, tt.want)
			}
			for pod, hosts := range tt.want {
				if h := hostnames(got[pod]); h != strings.ReplaceAll(hosts, "+", ", ") {
					t.Errorf("%s ← %s, want %s", pod, h, hosts)
				}
			}
			// Every source is restored by exactly one pod.
			seen := map[string]int{}
			for _, ss := range got {
				for _, s := range ss {
					seen[s.Hostname]++
				}
			}
			for _, s := range tt.sources {
				if seen[s.Hostname] != 1 {
					t.Errorf("%s restored %d times", s.Hostname, seen[s.Hostname])
				}
			}
		})
	}
}

// TestPodPlanUnion: a pod restoring several nodes gets the union of their tokens, the
// first as its source node, the others in More, and a restore key naming all manifests.
func TestPodPlanUnion(t *testing.T) {
	a := SourceNode{Hostname: "s-0", Rack: "r", HostID: "h0", Tokens: []string{"1", "5"}, ManifestKey: "k0"}
	b := SourceNode{Hostname: "s-1", Rack: "r", HostID: "h1", Tokens: []string{"3"}, ManifestKey: "k1"}
	pp := podPlan("s3://b", []SourceNode{a, b})
	if pp.SourceNode != "s-0" || strings.Join(pp.Tokens, ",") != "1,5,3" || len(pp.More) != 1 || pp.More[0].HostID != "h1" ||
		pp.RestoreKey != "s3://b|k0|k1" || pp.ManifestKey() != "k0" {
		t.Errorf("pod plan %+v", pp)
	}
	p := &plan.Plan{Pods: map[string]plan.PodPlan{"p-0": pp, "p-1": podPlan("s3://b", []SourceNode{a})}}
	st := &v1alpha1.RestoreStatus{}
	setRepairRequired(st, p, 3)
	c := meta.FindStatusCondition(st.Conditions, TypeRepairRequired)
	if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "p-0 ← s-0+s-1") || strings.Contains(c.Message, "p-1") {
		t.Errorf("RepairRequired %+v", c)
	}
	delete(p.Pods, "p-0")
	setRepairRequired(st, p, 4)
	if meta.FindStatusCondition(st.Conditions, TypeRepairRequired) != nil {
		t.Error("RepairRequired kept for a plan of one node per pod")
	}
}

func TestPodState(t *testing.T) {
	pp := plan.PodPlan{SourceNode: "s-0", RestoreKey: "k"}
	withInit := func(st ...corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{plan.AnnotationRestoreKey: "k"}},
			Spec:       corev1.PodSpec{InitContainers: []corev1.Container{{Name: plan.InitContainerName}}},
			Status:     corev1.PodStatus{InitContainerStatuses: st},
		}
	}
	failed := &corev1.ContainerStateTerminated{ExitCode: 1, Message: "cassandra-backup-agent restore: download x: 403"}
	tests := []struct {
		pod   *corev1.Pod
		state v1alpha1.RestoreState
		msg   string
	}{
		{&corev1.Pod{}, v1alpha1.RestorePending, "without the restore init container"},
		{withInit(), v1alpha1.RestorePending, "has not started"},
		{withInit(corev1.ContainerStatus{Name: "restore", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}), v1alpha1.RestorePending, "PodInitializing"},
		{withInit(corev1.ContainerStatus{Name: "restore", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}), v1alpha1.RestoreRunning, "downloading"},
		{withInit(corev1.ContainerStatus{Name: "restore", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}), v1alpha1.RestoreCompleted, "restored"},
		{withInit(corev1.ContainerStatus{Name: "restore", State: corev1.ContainerState{Terminated: failed}}), v1alpha1.RestoreFailed, "exit code 1: cassandra-backup-agent restore: download x: 403"},
		{withInit(corev1.ContainerStatus{Name: "restore", RestartCount: 2, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, LastTerminationState: corev1.ContainerState{Terminated: failed}}), v1alpha1.RestoreFailed, "403"},
		{withInit(corev1.ContainerStatus{Name: "restore", RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, LastTerminationState: corev1.ContainerState{Terminated: failed}}), v1alpha1.RestoreRunning, "retrying (restart 2)"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			st, msg := PodState(tt.pod, pp)
			if st != tt.state || !strings.Contains(msg, tt.msg) {
				t.Errorf("PodState = %s %q, want %s containing %q", st, msg, tt.state, tt.msg)
			}
		})
	}
	if got := overall([]v1alpha1.NodeRestoreStatus{{State: v1alpha1.RestoreCompleted}, {State: v1alpha1.RestoreRunning}}); got != v1alpha1.RestoreRunning {
		t.Errorf("overall = %s", got)
	}
}

// TestProfilePodNames: a CassandraDataCenter's targets are named the way its profile's
// operator names pods.
func TestProfilePodNames(t *testing.T) {
	dc := dcWith(1, "west1-a")
	dc.Name, dc.Spec.Cluster, dc.Spec.Datacenter = "test-dc-cassandra", "Demo", "dc1"
	if got := Targets(dc, 1, ProfilePodName(profile.InstaclustrProfile))[0].Pod; got != "cassandra-test-dc-cassandra-west1-a-0" {
		t.Errorf("instaclustr: %s", got)
	}
	if got := Targets(dc, 1, ProfilePodName(profile.CassOperatorProfile))[0].Pod; got != "demo-dc1-west1-a-sts-0" {
		t.Errorf("cass-operator: %s", got)
	}
	dc.Spec.Datacenter = ""
	if got := Targets(dc, 1, ProfilePodName(profile.CassOperatorProfile))[0].Pod; got != "demo-test-dc-cassandra-west1-a-sts-0" {
		t.Errorf("cass-operator without spec.datacenter: %s", got)
	}
	c := &Controller{}
	dc.Annotations = map[string]string{profile.Annotation: profile.CassOperator}
	if name, err := c.podNameFor(dc); err != nil || name(dc, "r", 1) != "demo-test-dc-cassandra-r-sts-1" {
		t.Errorf("annotated cass-operator: %v", err)
	}
	dc.Annotations[profile.Annotation] = "nosuch"
	if _, err := c.podNameFor(dc); reconciler.ReasonOf(err) != ReasonUnknownProfile || dc.Status.Restore == nil {
		t.Errorf("unknown profile: %v", err)
	}
}
