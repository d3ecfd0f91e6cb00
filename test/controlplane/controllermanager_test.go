package controlplane

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// TestControllerManager starts a control plane with kube-controller-manager, reports what
// it costs (start-up time, peak RSS), and deletes a namespace with content: it finishes.
func TestControllerManager(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	cp, err := Start(ctx, Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	t.Logf("control plane with kube-controller-manager started in %s (kube-controller-manager to healthy: %s)",
		time.Since(start).Round(10*time.Millisecond), cp.kcmStartup.Round(10*time.Millisecond))

	client := kubernetes.NewForConfigOrDie(cp.Config())
	ns := "doomed"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.Itoa(i)}}
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deleted := time.Now()
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("namespace %s not deleted within 60 s: %v\n%s", ns, err, cp.ControllerManagerLog())
	}
	t.Logf("namespace with 5 ConfigMaps deleted in %s", time.Since(deleted).Round(10*time.Millisecond))
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cp.kcm.cmd.Process.Pid) + "/status")
	if err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				t.Logf("kube-controller-manager peak RSS %s", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
			}
		}
	}
}
