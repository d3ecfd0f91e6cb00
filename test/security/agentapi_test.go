package security

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// agentAPIEnv is a real agent binary serving a fake node in namespace ns, authenticating
// callers against the test control plane.
type agentAPIEnv struct {
	t      *testing.T
	kube   kubernetes.Interface
	ns     string // the agent's namespace
	other  string // another namespace with Cassandra
	opNS   string // the operator's namespace
	node   *fakecassandra.Node
	url    string
	bucket string
}

const agentAPISecret = "backup-creds"

func newAgentAPIEnv(t *testing.T) *agentAPIEnv {
	t.Helper()
	cp := controlplane.Shared(t)
	e := &agentAPIEnv{t: t, kube: kubernetes.NewForConfigOrDie(cp.Config()),
		ns: cp.Namespace(t), other: cp.Namespace(t), opNS: cp.Namespace(t)}
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent")
	e.node = fakecassandra.New(t, fakecassandra.Config{ClusterName: "c1", Datacenter: "dc1", Rack: "a", NumTokens: 2})
	if err := e.node.WriteSSTable("ks1", "t1", 4000); err != nil {
		t.Fatal(err)
	}
	e.bucket = filepath.Join(t.TempDir(), "bucket")
	addr := controlplane.FreeAddr(t)
	controlplane.Run(t, bin, "serve", "--listen="+addr, "--jolokia-url="+e.node.URL(), "--hostname=dc1-a-0",
		"--kubeconfig="+cp.KubeconfigPath, "--pod-namespace="+e.ns, "--auth-cache-ttl=1s")
	e.url = "http://" + addr
	for end := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(e.url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatalf("agent at %s did not start", e.url)
		}
	}
	for _, sa := range []struct{ ns, name string }{{e.opNS, "operator"}, {e.ns, "intruder"}, {e.ns, "reader"}} {
		e.create(func(ctx context.Context) error {
			_, err := e.kube.CoreV1().ServiceAccounts(sa.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.name}}, metav1.CreateOptions{})
			return err
		})
	}
	e.create(func(ctx context.Context) error {
		_, err := e.kube.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: agentAPISecret},
			StringData: map[string]string{"awsaccesskeyid": "k", "awssecretaccesskey": "s"}}, metav1.CreateOptions{})
		return err
	})
	// The operator's rights in the agent's namespace, as the chart grants them; "reader"
	// may drive operations but not read the Secret.
	e.role("agent-operations", []rbacv1.PolicyRule{{APIGroups: []string{api.OperationsGroup},
		Resources: []string{api.OperationsResource + "/" + api.OperationsSubresource}, Verbs: []string{"get", "create", "delete"}}},
		rbacv1.Subject{Kind: "ServiceAccount", Namespace: e.opNS, Name: "operator"},
		rbacv1.Subject{Kind: "ServiceAccount", Namespace: e.ns, Name: "reader"})
	e.role("backup-secret", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
		ResourceNames: []string{agentAPISecret}, Verbs: []string{"get"}}},
		rbacv1.Subject{Kind: "ServiceAccount", Namespace: e.opNS, Name: "operator"})
	return e
}

func (e *agentAPIEnv) create(fn func(ctx context.Context) error) {
	e.t.Helper()
	if err := fn(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// role grants rules in the agent's namespace to subjects.
func (e *agentAPIEnv) role(name string, rules []rbacv1.PolicyRule, subjects ...rbacv1.Subject) {
	e.t.Helper()
	e.create(func(ctx context.Context) error {
		_, err := e.kube.RbacV1().Roles(e.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
		return err
	})
	e.create(func(ctx context.Context) error {
		_, err := e.kube.RbacV1().RoleBindings(e.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects: subjects}, metav1.CreateOptions{})
		return err
	})
}

// token mints a token of a ServiceAccount for an audience with the TokenRequest API.
func (e *agentAPIEnv) token(ns, sa, audience string) string {
	e.t.Helper()
	secs := int64(600)
	tr, err := e.kube.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return tr.Status.Token
}

// backup is a backup request of the agent's node naming the Secret.
func (e *agentAPIEnv) backup(tag, secret string) api.Request {
	return api.Request{Type: api.TypeBackup, StorageLocation: "file://" + e.bucket, SnapshotTag: tag, CreateMissingBucket: true,
		K8sNamespace: e.ns, K8sSecretName: secret}
}

// agentAPIStatus returns the HTTP status of an agent client's error, 0 for none.
func agentAPIStatus(err error) int {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

// assertNothingStarted fails when a snapshot was taken or anything was written to the
// bucket: a refused request must start nothing.
func (e *agentAPIEnv) assertNothingStarted() {
	e.t.Helper()
	if n := e.node.Calls("takeSnapshot"); n != 0 {
		e.t.Errorf("the node received %d snapshot requests after refused requests", n)
	}
	if _, err := os.Stat(e.bucket); !errors.Is(err, os.ErrNotExist) {
		e.t.Errorf("the bucket %s exists after refused requests (%v)", e.bucket, err)
	}
}

// TestAgentAPIRefusesStrangers attacks a real agent's API: with no token, with a token of
// another ServiceAccount, with the operator's token for another namespace's audience, with
// a token of an allowed ServiceAccount that may not read the Secret it names, and across
// namespaces. Every one is refused and nothing starts; then the operator's token, minted
// and rotated with the TokenRequest API, works.
func TestAgentAPIRefusesStrangers(t *testing.T) {
	e := newAgentAPIEnv(t)
	ctx := context.Background()
	aud := api.Audience(e.ns)
	for _, tt := range []struct {
		name  string
		token string
		req   api.Request
		want  int
	}{
		{"no token", "", e.backup("none", agentAPISecret), http.StatusUnauthorized},
		{"garbage token", "not-a-jwt", e.backup("garbage", agentAPISecret), http.StatusUnauthorized},
		{"another ServiceAccount", e.token(e.ns, "intruder", aud), e.backup("intruder", agentAPISecret), http.StatusForbidden},
		{"the operator's token for another namespace's agents", e.token(e.opNS, "operator", api.Audience(e.other)), e.backup("replay", agentAPISecret), http.StatusUnauthorized},
		{"the operator's token without an audience of ours", e.token(e.opNS, "operator", "https://kubernetes.default.svc.cluster.local"), e.backup("apiaud", agentAPISecret), http.StatusUnauthorized},
		{"a caller who may not read the Secret", e.token(e.ns, "reader", aud), e.backup("reader", agentAPISecret), http.StatusForbidden},
		{"a Secret the operator may not read", e.token(e.opNS, "operator", aud), e.backup("othersecret", "other-secret"), http.StatusForbidden},
		{"a Secret of another namespace", e.token(e.opNS, "operator", aud), func() api.Request { r := e.backup("otherns", agentAPISecret); r.K8sNamespace = e.other; return r }(), http.StatusForbidden},
	} {
		c := &client.Client{Token: tt.token}
		_, err := c.Submit(ctx, e.url, tt.req)
		if got := agentAPIStatus(err); got != tt.want {
			t.Errorf("%s: POST /operations: %v, want %d", tt.name, err, tt.want)
		}
		if tt.want == http.StatusUnauthorized {
			for _, read := range []func() error{
				func() error { _, err := c.List(ctx, e.url, ""); return err },
				func() error { _, err := c.Identity(ctx, e.url); return err },
				func() error { return c.Cancel(ctx, e.url, "x") },
			} {
				if got := agentAPIStatus(read()); got != tt.want {
					t.Errorf("%s: a read or cancel answered %d, want %d", tt.name, got, tt.want)
				}
			}
		}
	}
	e.assertNothingStarted()
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.url + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s without a token: %v %v, want 200", p, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}

	// The operator's client: tokens minted per namespace audience, rotated before expiry.
	now := time.Now()
	tokens := &client.TokenRequester{Kube: e.kube, Namespace: e.opNS, Name: "operator", Now: func() time.Time { return now }}
	op := (&client.Client{Tokens: tokens}).For(e.ns)
	first, err := tokens.Token(ctx, e.ns)
	if err != nil {
		t.Fatal(err)
	}
	o, err := op.Submit(ctx, e.url, e.backup("allowed", agentAPISecret))
	if err != nil {
		t.Fatalf("the operator's request: %v", err)
	}
	agentAPIWait(t, op, e.url, o.ID)
	if e.node.Calls("takeSnapshot") == 0 {
		t.Error("the operator's backup took no snapshot")
	}
	if _, err := os.Stat(e.bucket); err != nil {
		t.Errorf("the operator's backup wrote nothing: %v", err)
	}
	now = now.Add(50 * time.Minute) // past 80% of the hour: the next request mints again
	second, err := tokens.Token(ctx, e.ns)
	if err != nil || second == first {
		t.Fatalf("rotation: a new token was not minted (%v)", err)
	}
	if _, err := op.Get(ctx, e.url, o.ID); err != nil {
		t.Errorf("after rotation: %v", err)
	}
	if _, err := (&client.Client{Token: second}).For(e.other).List(ctx, e.url, ""); err != nil {
		t.Errorf("the rotated token: %v", err)
	}

	// A deleted ServiceAccount's tokens stop working once the cached review expires.
	if err := e.kube.CoreV1().ServiceAccounts(e.opNS).Delete(ctx, "operator", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := (&client.Client{Token: second}).List(ctx, e.url, "")
		if agentAPIStatus(err) == http.StatusUnauthorized {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("a deleted ServiceAccount's token still answers %v", err)
		}
	}
}

// agentAPIWait waits for an operation to finish and fails unless it completed.
func agentAPIWait(t *testing.T, c *client.Client, url, id string) {
	t.Helper()
	for end := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		o, err := c.Get(context.Background(), url, id)
		if err != nil {
			t.Fatal(err)
		}
		if o.State.Final() {
			if o.State != api.StateCompleted {
				t.Fatalf("operation %s: %s %v", id, o.State, o.Errors)
			}
			return
		}
		if time.Now().After(end) {
			t.Fatalf("operation %s still %s", id, o.State)
		}
	}
}
