package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

var shared struct {
	once sync.Once
	cp   *ControlPlane
	err  error
}

// Shared returns the control plane shared by the tests of one test binary, starting it
// on first use. The test fails when it cannot start. Call Main from TestMain so the
// control plane is stopped when the tests end.
func Shared(t testing.TB) *ControlPlane {
	t.Helper()
	shared.once.Do(func() {
		shared.cp, shared.err = Start(context.Background(), Options{})
	})
	if shared.err != nil {
		t.Fatalf("test control plane (etcd + kube-apiserver) could not start: %v", shared.err)
	}
	return shared.cp
}

// atExit holds what Main runs after the tests (AtExit).
var atExit struct {
	sync.Mutex
	fns []func()
}

// AtExit registers f to run once the tests of the binary have ended, when its TestMain
// calls Main: for what lives as long as the process, such as a built binary.
func AtExit(f func()) {
	atExit.Lock()
	defer atExit.Unlock()
	atExit.fns = append(atExit.fns, f)
}

// Main runs the tests, then stops the shared control plane, removes the shared pod
// network (when CASSBACKUP_PODNET=1 made one) and runs the AtExit functions; use it as
// `func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }`.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.cp != nil {
		shared.cp.Stop()
	}
	if err := podnet.CloseShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	atExit.Lock()
	defer atExit.Unlock()
	for _, f := range atExit.fns {
		f()
	}
	return code
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace named after the test, unique in this control plane.
// Namespaces are not deleted: no namespace controller runs here to empty them.
func (cp *ControlPlane) Namespace(t testing.TB) string {
	t.Helper()
	suffix := make([]byte, 3)
	rand.Read(suffix)
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = name[:50]
	}
	name = fmt.Sprintf("%s-%s", strings.Trim(name, "-"), hex.EncodeToString(suffix))
	client := kubernetes.NewForConfigOrDie(cp.Config())
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}
