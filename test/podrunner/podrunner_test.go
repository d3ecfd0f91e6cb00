package podrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x y", "B": "$(A)"}
	for in, want := range map[string]string{
		"$(A)":           "x y",
		"-D$(A) $(C)":    "-Dx y $(C)",
		"$$(A)":          "$(A)",
		"$(B)":           "$(A)", // values are not expanded twice
		"plain $ sign":   "plain $ sign",
		"unterminated$(": "unterminated$(",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMapper(t *testing.T) {
	m := mapper{{"/var/lib/cassandra/data", "/tmp/d"}, {"/var/lib/cassandra", "/tmp/c"}}
	for in, want := range map[string]string{
		"/var/lib/cassandra/data/restore_done":    "/tmp/d/restore_done",
		"--tokens-file=/var/lib/cassandra/t.yaml": "--tokens-file=/tmp/c/t.yaml",
		"--commitlog-dir=/var/lib/cassandra":      "--commitlog-dir=/tmp/c",
		"/var/lib/cassandra-other":                "/var/lib/cassandra-other",
		"--x=/etc/cassandra":                      "--x=/etc/cassandra",
	} {
		if got := m.apply(in); got != want {
			t.Errorf("apply(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunAsUser runs a container with the pod's and the container's ids and checks who
// owns the files it writes into an emptyDir volume, with and without an fsGroup.
func TestRunAsUser(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name               string
		pod                *corev1.PodSecurityContext
		container          *corev1.SecurityContext
		wantUID, wantGroup uint32
	}{
		{name: "pod-level ids and fsGroup", pod: &corev1.PodSecurityContext{RunAsUser: id(1234), RunAsGroup: id(2345), FSGroup: id(3456)},
			wantUID: 1234, wantGroup: 3456}, // the setgid volume's group
		{name: "container-level ids", pod: &corev1.PodSecurityContext{RunAsUser: id(1), RunAsGroup: id(1)},
			container: &corev1.SecurityContext{RunAsUser: id(1235), RunAsGroup: id(2346)}, wantUID: 1235, wantGroup: 2346},
		{name: "user without group", container: &corev1.SecurityContext{RunAsUser: id(1236)}, wantUID: 1236, wantGroup: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
				Spec: corev1.PodSpec{
					SecurityContext: tc.pod,
					InitContainers: []corev1.Container{{Name: "write", Command: []string{"sh"}, Args: []string{"-c", `id -u; id -g; mkdir "$1" && echo x > "$1/f"`, "sh", "/data/d"},
						SecurityContext: tc.container, VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
					Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			}
			r := &Runner{Binaries: map[string]string{"sh": "/bin/sh"}, Root: t.TempDir()}
			res, err := r.Run(context.Background(), pod, "write")
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("run: %v %+v", err, res)
			}
			if got := strings.Fields(res.Stdout); len(got) != 2 || got[0] != fmt.Sprint(tc.wantUID) {
				t.Errorf("id -u, id -g: %q", res.Stdout)
			}
			for _, p := range []string{"d", "d/f"} {
				fi, err := os.Stat(filepath.Join(r.Root, "ns", "p", "volumes", "data", p))
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if st.Uid != tc.wantUID || st.Gid != tc.wantGroup {
					t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, tc.wantUID, tc.wantGroup)
				}
			}
		})
	}
}

// TestReadOnlyRootFilesystem: a container with a read-only root filesystem, run as
// another user, cannot write to its HOME or TMPDIR, only to its volumes.
func TestReadOnlyRootFilesystem(t *testing.T) {
	uid := int64(1237)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "write", Command: []string{"sh"},
				Args:            []string{"-c", `echo x > "$1/f" || exit 3; touch "$HOME/h" 2>/dev/null && exit 4; touch "$TMPDIR/t" 2>/dev/null && exit 5; exit 0`, "sh", "/data"},
				SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, ReadOnlyRootFilesystem: ptrTo(true)},
				VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	r := &Runner{Binaries: map[string]string{"sh": "/bin/sh"}, Root: t.TempDir()}
	res, err := r.Run(context.Background(), pod, "write")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run: %v, exit %d (3: volume not writable, 4: HOME writable, 5: TMPDIR writable) %s", err, res.ExitCode, res.Stderr)
	}
}

func ptrTo[T any](v T) *T { return &v }
