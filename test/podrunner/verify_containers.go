package podrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// terminationMessageLimit is what a kubelet keeps of a termination message.
const terminationMessageLimit = 4096

// terminationFile is the local file standing for a container's terminationMessagePath.
func (r *Runner) terminationFile(pod *corev1.Pod, c corev1.Container) string {
	return filepath.Join(r.Root, pod.Namespace, pod.Name, "termination-"+c.Name)
}

// verifyTerminationMessage maps the container's terminationMessagePath to a local file, as
// a kubelet mounts one there: a path to it in the arguments or environment is rewritten.
func (r *Runner) verifyTerminationMessage(pod *corev1.Pod, c corev1.Container, m mapper) (mapper, error) {
	if c.TerminationMessagePath == "" || r.Root == "" {
		return m, nil
	}
	f := r.terminationFile(pod, c)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f, nil, 0o666); err != nil {
		return nil, err
	}
	m = append(m, struct{ from, to string }{c.TerminationMessagePath, f})
	sort.Slice(m, func(i, j int) bool { return len(m[i].from) > len(m[j].from) })
	return m, nil
}

// RunContainers runs the pod's (regular) containers in order to their end, as a kubelet
// runs a pod with restartPolicy Never, and records them in the pod's status: each
// container terminated with its exit code and termination message (the file at its
// terminationMessagePath, or with FallbackToLogsOnError and a failure, the end of its
// output), the phase Succeeded or Failed. Use it for pods without a long-running
// container, such as restore drills.
func (r *Runner) RunContainers(ctx context.Context, pod *corev1.Pod) ([]Result, error) {
	var results []Result
	var statuses []corev1.ContainerStatus
	phase := corev1.PodSucceeded
	for _, c := range pod.Spec.Containers {
		start := metav1.Now()
		res, err := r.Run(ctx, pod, c.Name)
		if err != nil {
			return results, err
		}
		results = append(results, res)
		term := &corev1.ContainerStateTerminated{ExitCode: int32(res.ExitCode), StartedAt: start, FinishedAt: metav1.Now(), Reason: "Completed"}
		msg, _ := os.ReadFile(r.terminationFile(pod, c))
		if res.ExitCode != 0 {
			term.Reason, phase = "Error", corev1.PodFailed
			if len(strings.TrimSpace(string(msg))) == 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
				msg = []byte(res.Stdout + res.Stderr)
				if len(msg) > terminationMessageLimit {
					msg = msg[len(msg)-terminationMessageLimit:]
				}
			}
		}
		if len(msg) > terminationMessageLimit {
			msg = msg[:terminationMessageLimit]
		}
		term.Message = string(msg)
		statuses = append(statuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: corev1.ContainerState{Terminated: term}})
	}
	cur, err := r.Kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return results, fmt.Errorf("get pod %s: %w", pod.Name, err)
	}
	cur.Status.ContainerStatuses, cur.Status.Phase = statuses, phase
	if _, err := r.Kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return results, fmt.Errorf("update status of pod %s: %w", pod.Name, err)
	}
	return results, nil
}
