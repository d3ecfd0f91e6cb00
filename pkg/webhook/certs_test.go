package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func parseBundle(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// handshake serves with c and checks that a client trusting bundle accepts the name.
func handshake(t *testing.T, c CertSource, bundle []byte, name string) error {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: name}}}
	resp, err := client.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestCertificatesCreateRenewRotate(t *testing.T) {
	ctx := context.Background()
	hook := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "cassandra-backup-operator"},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "a.example.com"}, {Name: "b.example.com"}},
	}
	client := fake.NewClientset(hook)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newCerts := func() *Certificates {
		return &Certificates{
			Client: client, Namespace: "ops", SecretName: "webhook-cert", ServiceName: "cassandra-backup-operator",
			IPs: []net.IP{net.ParseIP("127.0.0.1")}, WebhookConfiguration: hook.Name,
			CAValidity: 300 * 24 * time.Hour, Validity: 90 * 24 * time.Hour, Now: func() time.Time { return now },
		}
	}
	a := newCerts()
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	sec, err := client.CoreV1().Secrets("ops").Get(ctx, "webhook-cert", metav1.GetOptions{})
	if err != nil || sec.Type != corev1.SecretTypeTLS {
		t.Fatalf("secret %v %v", sec, err)
	}
	bundle := a.CABundle()
	if len(parseBundle(t, bundle)) != 1 {
		t.Fatalf("bundle holds %d CAs", len(parseBundle(t, bundle)))
	}
	got, _ := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, hook.Name, metav1.GetOptions{})
	for _, w := range got.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			t.Errorf("webhook %s caBundle not set", w.Name)
		}
	}
	// The certificate is valid for the Service's names (the test's clock is in the past
	// of the handshake's, so check names by hand and do the handshake with fresh material
	// below).
	leaf, _ := x509.ParseCertificate(mustCert(t, a).Certificate[0])
	for _, n := range []string{"cassandra-backup-operator.ops.svc", "cassandra-backup-operator.ops.svc.cluster.local", "127.0.0.1"} {
		if err := leaf.VerifyHostname(n); err != nil {
			t.Errorf("certificate not valid for %s: %v", n, err)
		}
	}

	// A second replica reads the same material and changes nothing.
	b := newCerts()
	if err := b.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.CABundle(), bundle) || !bytes.Equal(mustCert(t, b).Certificate[0], mustCert(t, a).Certificate[0]) {
		t.Error("second replica made new certificates")
	}

	// Two thirds into the serving certificate's life: renewed, same CA.
	now = now.Add(61 * 24 * time.Hour)
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(mustCert(t, a).Certificate[0], leaf.Raw) {
		t.Error("serving certificate not renewed before expiry")
	}
	if !bytes.Equal(a.CABundle(), bundle) {
		t.Error("CA changed on a serving renewal")
	}

	// Two thirds into the CA's life: a new CA, the old one kept in the bundle until it expires.
	now = now.Add(150 * 24 * time.Hour)
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	cas := parseBundle(t, a.CABundle())
	if len(cas) != 2 || !cas[1].Equal(parseBundle(t, bundle)[0]) {
		t.Fatalf("bundle after CA rotation holds %d CAs", len(cas))
	}
	got, _ = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, hook.Name, metav1.GetOptions{})
	if !bytes.Equal(got.Webhooks[0].ClientConfig.CABundle, a.CABundle()) {
		t.Error("caBundle not updated after CA rotation")
	}
	// Past the old CA's expiry: dropped from the bundle.
	now = now.Add(100 * 24 * time.Hour)
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(parseBundle(t, a.CABundle())); n != 1 {
		t.Errorf("expired CA kept: bundle holds %d", n)
	}

	// Real time: a TLS client trusting the bundle accepts the server.
	rt := &Certificates{Client: fake.NewClientset(), Namespace: "ops", SecretName: "s", ServiceName: "svc"}
	if err := rt.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, rt, rt.CABundle(), "svc.ops.svc"); err != nil {
		t.Errorf("TLS handshake: %v", err)
	}
	if err := handshake(t, rt, rt.CABundle(), "other.example.com"); err == nil {
		t.Error("handshake for a foreign name succeeded")
	}

	// Unreadable Secret content is replaced.
	sec, _ = client.CoreV1().Secrets("ops").Get(ctx, "webhook-cert", metav1.GetOptions{})
	sec.Data[corev1.TLSCertKey] = []byte("garbage")
	client.CoreV1().Secrets("ops").Update(ctx, sec, metav1.UpdateOptions{})
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
}

func mustCert(t *testing.T, c CertSource) *tls.Certificate {
	t.Helper()
	cert, err := c.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestFileCertificatesReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name string) []byte {
		c := &Certificates{Client: fake.NewClientset(), Namespace: "ops", SecretName: "s", ServiceName: name}
		if err := c.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		sec, _ := c.Client.CoreV1().Secrets("ops").Get(ctx, "s", metav1.GetOptions{})
		os.WriteFile(filepath.Join(dir, "tls.crt"), sec.Data[corev1.TLSCertKey], 0o600)
		os.WriteFile(filepath.Join(dir, "tls.key"), sec.Data[corev1.TLSPrivateKeyKey], 0o600)
		return c.CABundle()
	}
	first := write("one")
	f := &FileCertificates{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), CheckInterval: time.Nanosecond}
	if err := handshake(t, f, first, "one.ops.svc"); err != nil {
		t.Fatal(err)
	}
	// Rotated on disk (a later modification time): served without a restart.
	second := write("two")
	future := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(dir, "tls.crt"), future, future)
	if err := handshake(t, f, second, "two.ops.svc"); err != nil {
		t.Errorf("rotated certificate not served: %v", err)
	}
}
