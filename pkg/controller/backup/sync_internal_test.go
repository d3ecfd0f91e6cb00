package backup

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		done, total int64
		complete    bool
		want        string
	}{
		{0, 0, false, "0%"}, {0, 0, true, "100%"}, {83, 100, false, "83%"},
		{100, 100, false, "99%"}, {120, 100, false, "99%"}, {1, 3, false, "33%"},
	} {
		if got := percent(c.done, c.total, c.complete); got != c.want {
			t.Errorf("percent(%d, %d, %v) = %s, want %s", c.done, c.total, c.complete, got, c.want)
		}
	}
}

func TestStableError(t *testing.T) {
	a := &url.Error{Op: "Get", URL: "http://127.0.0.1:4567/operations/x", Err: errors.New("dial tcp 127.0.0.1:51234->127.0.0.1:4567: connect: connection refused")}
	b := &url.Error{Op: "Get", URL: "http://127.0.0.1:4567/operations/x", Err: errors.New("dial tcp 127.0.0.1:40000->127.0.0.1:4567: connect: connection refused")}
	if stableError(a) != stableError(b) {
		t.Errorf("%q != %q", stableError(a), stableError(b))
	}
	if !strings.Contains(stableError(a), "connection refused") {
		t.Errorf("lost the cause: %q", stableError(a))
	}
}

func TestPodAddress(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{PodIP: "10.0.0.7"}}
	if got, err := PodAddress(pod, DefaultAgentPortName, DefaultAgentPort, ""); err != nil || got != "http://10.0.0.7:4567" {
		t.Errorf("default port: %s %v", got, err)
	}
	pod.Spec.Containers = []corev1.Container{{Ports: []corev1.ContainerPort{{Name: DefaultAgentPortName, ContainerPort: 9000}}}}
	if got, _ := PodAddress(pod, DefaultAgentPortName, DefaultAgentPort, "/x"); got != "http://10.0.0.7:9000/x" {
		t.Errorf("named port: %s", got)
	}
	pod.Status.PodIP = "fd00::1"
	if got, _ := PodAddress(pod, DefaultAgentPortName, DefaultAgentPort, ""); got != "http://[fd00::1]:9000" {
		t.Errorf("IPv6: %s", got)
	}
	pod.Status.PodIP = ""
	if _, err := PodAddress(pod, DefaultAgentPortName, DefaultAgentPort, ""); err == nil {
		t.Error("a pod without IP has an address")
	}
}

func TestCheckSpec(t *testing.T) {
	ok := v1alpha1.CassandraBackupSpec{Cluster: "c", Datacenter: "dc1", StorageLocation: "s3://bucket-a", SnapshotTag: "t"}
	zero := resource.MustParse("0")
	for _, c := range []struct {
		name string
		edit func(*v1alpha1.CassandraBackupSpec)
		want string
	}{
		{"valid", func(*v1alpha1.CassandraBackupSpec) {}, ""},
		{"node location", func(s *v1alpha1.CassandraBackupSpec) { s.StorageLocation = "s3://bucket-a/c/dc1/node1" }, "names a node"},
		{"entities", func(s *v1alpha1.CassandraBackupSpec) { s.Entities = "a.b.c" }, "spec.entities"},
		{"bandwidth", func(s *v1alpha1.CassandraBackupSpec) { s.Bandwidth = &zero }, "spec.bandwidth"},
		{"timeout", func(s *v1alpha1.CassandraBackupSpec) { s.Timeout = &metav1.Duration{Duration: -time.Second} }, "spec.timeout"},
		{"scheme", func(s *v1alpha1.CassandraBackupSpec) { s.StorageLocation = "ftp://x" }, "spec.storageLocation"},
	} {
		s := ok
		c.edit(&s)
		err := checkSpec(&s, s.StorageLocation)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || reconciler.ReasonOf(err) != ReasonInvalidSpec):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
