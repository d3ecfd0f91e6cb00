package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
)

// staticLookup answers from fixed objects.
type staticLookup struct {
	dc   *v1alpha1.CassandraDataCenter
	plan *plan.Plan
}

func (l staticLookup) Datacenter(*corev1.Pod) (*v1alpha1.CassandraDataCenter, error) {
	return l.dc, nil
}
func (l staticLookup) Plan(*v1alpha1.CassandraDataCenter) (*plan.Plan, error) {
	return l.plan, nil
}

func review(t testing.TB, pod *corev1.Pod) []byte {
	t.Helper()
	raw, _ := json.Marshal(pod)
	b, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "uid-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Operation: admissionv1.Create, Namespace: "ns", Name: pod.Name, Object: runtime.RawExtension{Raw: raw}},
	})
	return b
}

func startServer(t *testing.T, l Lookup) (string, *x509.CertPool) {
	t.Helper()
	certs := &Certificates{Client: fake.NewClientset(), Namespace: "ops", SecretName: "s", ServiceName: "svc", IPs: []net.IP{net.ParseIP("127.0.0.1")}}
	if err := certs.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Certificates: certs, Lookup: l, Config: Config{AgentImage: "agent"}, MaxBodyBytes: 64 << 10}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certs.CABundle())
	return "https://" + ln.Addr().String(), pool
}

func TestServer(t *testing.T) {
	dc := testDC(true)
	url, pool := startServer(t, staticLookup{dc: dc, plan: testPlan(t, dc, "b1")})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	post := func(body []byte, ct string) (*http.Response, []byte) {
		t.Helper()
		resp, err := client.Post(url+DefaultPath, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	// A planned pod: allowed with a JSON patch, the request's uid echoed.
	resp, body := post(review(t, testPod("cassandra-test-dc-cassandra-rack1-0")), "application/json")
	var out admissionv1.AdmissionReview
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || out.Response == nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response.UID != "uid-1" || !out.Response.Allowed ||
		out.Response.PatchType == nil || *out.Response.PatchType != admissionv1.PatchTypeJSONPatch || len(out.Response.Patch) == 0 {
		t.Errorf("response %+v", out.Response)
	}

	// Not JSON, too big, no request: refused.
	if resp, _ := post([]byte("x"), "text/plain"); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}
	if resp, _ := post(bytes.Repeat([]byte(" "), 65<<10), "application/json"); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", resp.StatusCode)
	}
	if resp, _ := post([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), "application/json"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no request: %d", resp.StatusCode)
	}

	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(url + "/healthz"); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("TLS 1.1 handshake: %v", err)
	}
	if resp, err := client.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v", err)
	}

	// HTTP/1.1 only, even for a client that offers HTTP/2.
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	if resp, err := h2.Get(url + "/healthz"); err != nil || resp.ProtoMajor != 1 {
		t.Errorf("a client offering HTTP/2: %v %v", resp, err)
	}
}

func TestReviewDenies(t *testing.T) {
	s := &Server{Lookup: staticLookup{dc: testDC(true)}, Config: Config{AgentImage: "agent"}}
	var req admissionv1.AdmissionReview
	json.Unmarshal(review(t, testPod("cassandra-test-dc-cassandra-rack1-0")), &req)
	resp := s.Review(req.Request)
	if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden || !strings.Contains(resp.Result.Message, "restore plan is not ready") {
		t.Errorf("response %+v", resp)
	}
	// Caches not synced yet: denied, whatever the pod.
	starting := &Server{Lookup: staticLookup{}, Ready: func() bool { return false }}
	if resp := starting.Review(req.Request); resp.Allowed || resp.Result.Code != http.StatusServiceUnavailable || !strings.Contains(resp.Result.Message, "not synced") {
		t.Errorf("before sync: %+v", resp)
	}
	// With the restore guard installed: admitted unchanged, with a warning (the guard
	// holds back the pods of restoring datacenters).
	starting.Guard = true
	if resp := starting.Review(req.Request); !resp.Allowed || resp.Patch != nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "restore guard") {
		t.Errorf("before sync, guarded: %+v", resp)
	}
	// Anything but a pod CREATE is let through.
	req.Request.Operation = admissionv1.Update
	if resp := s.Review(req.Request); !resp.Allowed || resp.Patch != nil {
		t.Errorf("update: %+v", resp)
	}
}

// BenchmarkReview measures one admission through the HTTP handler (JSON in, patch out).
func BenchmarkReview(b *testing.B) {
	dc := testDC(true)
	p := testPlan(b, dc, "b1")
	s := &Server{Lookup: staticLookup{dc: dc, plan: p}, Config: Config{AgentImage: "agent"}}
	h := s.Handler()
	body := review(b, testPod("cassandra-test-dc-cassandra-rack1-0"))
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != 0 && w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
