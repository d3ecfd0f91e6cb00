package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Keys of the certificate Secret.
const (
	// KeyCABundle holds the CA certificates clients trust: the current CA first, then a
	// previous one until it expires.
	KeyCABundle = "ca.crt"
	// KeyCAKey holds the current CA's private key.
	KeyCAKey = "ca.key"
)

// Certificates keeps a CA and a serving certificate in a Secret shared by the operator's
// replicas, renews them before they expire, and patches the CA bundle into the
// MutatingWebhookConfiguration. Client, Namespace, SecretName and ServiceName are required.
type Certificates struct {
	// Client reads and writes the Secret and the webhook configuration.
	Client kubernetes.Interface
	// Namespace and SecretName locate the Secret.
	Namespace, SecretName string
	// ServiceName is the webhook's Service; the certificate is valid for its DNS names.
	ServiceName string
	// DNSNames are further DNS names the certificate is valid for.
	DNSNames []string
	// IPs are addresses the certificate is valid for (127.0.0.1 for a webhook called by url).
	IPs []net.IP
	// WebhookConfiguration is the MutatingWebhookConfiguration whose caBundle is kept;
	// none when empty.
	WebhookConfiguration string
	// CAValidity is the CA's lifetime; 5 years when 0.
	CAValidity time.Duration
	// Validity is the serving certificate's lifetime; 1 year when 0.
	Validity time.Duration
	// CheckInterval is how often Run checks the Secret and the expiry; 1 hour when 0.
	CheckInterval time.Duration
	// Now tells the time; time.Now when nil.
	Now func() time.Time

	current atomic.Pointer[tls.Certificate]
	bundle  atomic.Pointer[[]byte]
}

func (c *Certificates) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Certificates) validity() (ca, serving time.Duration) {
	ca, serving = c.CAValidity, c.Validity
	if ca <= 0 {
		ca = 5 * 365 * 24 * time.Hour
	}
	if serving <= 0 {
		serving = 365 * 24 * time.Hour
	}
	return ca, serving
}

// GetCertificate returns the current serving certificate.
func (c *Certificates) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.current.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("no serving certificate yet")
}

// CABundle returns the PEM CA bundle clients should trust.
func (c *Certificates) CABundle() []byte {
	if b := c.bundle.Load(); b != nil {
		return *b
	}
	return nil
}

// Names returns the DNS names the serving certificate must carry.
func (c *Certificates) Names() []string {
	names := []string{c.ServiceName, c.ServiceName + "." + c.Namespace, c.ServiceName + "." + c.Namespace + ".svc", c.ServiceName + "." + c.Namespace + ".svc.cluster.local"}
	return append(names, c.DNSNames...)
}

// Run ensures the certificates, then checks them every CheckInterval until ctx ends.
// Errors after the first success are logged and retried.
func (c *Certificates) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("secret", klog.KRef(c.Namespace, c.SecretName))
	if err := c.Ensure(ctx); err != nil {
		return err
	}
	every := c.CheckInterval
	if every <= 0 {
		every = time.Hour
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.Ensure(ctx); err != nil {
			logger.Error(err, "Checking the webhook certificates failed; retrying", "after", every)
		}
	}, every)
	return nil
}

// Ensure makes the Secret hold a valid CA and serving certificate (creating or renewing
// them when missing, unreadable, for other names, or within a third of their lifetime of
// expiry), loads the serving certificate and patches the webhook configuration's caBundle.
func (c *Certificates) Ensure(ctx context.Context) error {
	var sec *corev1.Secret
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Steps: 5, Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.2}, func(ctx context.Context) (bool, error) {
		var err error
		sec, err = c.reconcileSecret(ctx)
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			return false, nil // another replica wrote it: read again
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("webhook certificate secret %s/%s: %w", c.Namespace, c.SecretName, err)
	}
	cert, err := tls.X509KeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return fmt.Errorf("webhook certificate secret %s/%s: load key pair: %w", c.Namespace, c.SecretName, err)
	}
	c.current.Store(&cert)
	bundle := slices.Clone(sec.Data[KeyCABundle])
	c.bundle.Store(&bundle)
	if c.WebhookConfiguration != "" {
		if err := c.patchCABundle(ctx, bundle); err != nil {
			return err
		}
	}
	return nil
}

// reconcileSecret reads the Secret and writes renewed material when needed.
func (c *Certificates) reconcileSecret(ctx context.Context) (*corev1.Secret, error) {
	logger := klog.FromContext(ctx)
	secrets := c.Client.CoreV1().Secrets(c.Namespace)
	sec, err := secrets.Get(ctx, c.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, err := c.renew(nil)
		if err != nil {
			return nil, err
		}
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: c.SecretName, Namespace: c.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "cassandra-backup-operator"}},
			Type:       corev1.SecretTypeTLS,
			Data:       data,
		}
		logger.Info("Creating the webhook certificates", "secret", klog.KObj(sec))
		return secrets.Create(ctx, sec, metav1.CreateOptions{})
	}
	if err != nil {
		return nil, err
	}
	data, err := c.renew(sec.Data)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return sec, nil
	}
	sec = sec.DeepCopy()
	sec.Data = data
	logger.Info("Renewing the webhook certificates", "secret", klog.KObj(sec))
	return secrets.Update(ctx, sec, metav1.UpdateOptions{})
}

// renew returns new Secret data when old needs renewing, or nil when old is good.
func (c *Certificates) renew(old map[string][]byte) (map[string][]byte, error) {
	now := c.now()
	caLife, servingLife := c.validity()
	ca, caKey, prev := parseCA(old)
	changed := false
	if ca == nil || remaining(ca, now) < caLife/3 {
		var err error
		newCA, newKey, err := newCA(now, caLife)
		if err != nil {
			return nil, err
		}
		if ca != nil && now.Before(ca.NotAfter) {
			prev = append([]*x509.Certificate{ca}, prev...)
		}
		ca, caKey, changed = newCA, newKey, true
	}
	// Drop expired previous CAs.
	kept := prev[:0]
	for _, p := range prev {
		if now.Before(p.NotAfter) && !p.Equal(ca) {
			kept = append(kept, p)
		}
	}
	if len(kept) != len(prev) {
		changed = true
	}
	prev = kept

	certPEM, keyPEM := old[corev1.TLSCertKey], old[corev1.TLSPrivateKeyKey]
	if changed || !c.servingValid(certPEM, keyPEM, ca, now, servingLife) {
		var err error
		certPEM, keyPEM, err = c.issue(ca, caKey, now, servingLife)
		if err != nil {
			return nil, err
		}
		changed = true
	}
	if !changed {
		return nil, nil
	}
	var bundle bytes.Buffer
	for _, cert := range append([]*x509.Certificate{ca}, prev...) {
		pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	keyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return map[string][]byte{
		KeyCABundle:             bundle.Bytes(),
		KeyCAKey:                pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		corev1.TLSCertKey:       certPEM,
		corev1.TLSPrivateKeyKey: keyPEM,
	}, nil
}

func remaining(cert *x509.Certificate, now time.Time) time.Duration { return cert.NotAfter.Sub(now) }

// parseCA returns the current CA (the bundle's first certificate, matching the CA key)
// and the other CAs of the bundle; nil when unreadable.
func parseCA(data map[string][]byte) (*x509.Certificate, *ecdsa.PrivateKey, []*x509.Certificate) {
	var certs []*x509.Certificate
	rest := data[KeyCABundle]
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, cert)
		}
	}
	kb, _ := pem.Decode(data[KeyCAKey])
	if len(certs) == 0 || kb == nil {
		return nil, nil, nil
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, nil
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) || !certs[0].IsCA {
		return nil, nil, nil
	}
	return certs[0], key, certs[1:]
}

// servingValid reports whether the serving pair is readable, signed by ca, for our names
// and far enough from expiry.
func (c *Certificates) servingValid(certPEM, keyPEM []byte, ca *x509.Certificate, now time.Time, life time.Duration) bool {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || cert.CheckSignatureFrom(ca) != nil || remaining(cert, now) < life/3 || now.Before(cert.NotBefore) {
		return false
	}
	for _, n := range c.Names() {
		if cert.VerifyHostname(n) != nil {
			return false
		}
	}
	for _, ip := range c.IPs {
		if cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(now time.Time, life time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, fmt.Errorf("CA serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "cassandra-backup-operator webhook CA " + now.UTC().Format("2006-01-02T15:04:05Z")},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(life),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return cert, key, nil
}

func (c *Certificates) issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time, life time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate serving key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, fmt.Errorf("serving certificate serial: %w", err)
	}
	notAfter := now.Add(life)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: c.ServiceName + "." + c.Namespace + ".svc"},
		DNSNames:     c.Names(),
		IPAddresses:  c.IPs,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode serving key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// patchCABundle sets caBundle on every webhook of the configuration, when it differs.
func (c *Certificates) patchCABundle(ctx context.Context, bundle []byte) error {
	hooks := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Steps: 5, Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.2}, func(ctx context.Context) (bool, error) {
		cfg, err := hooks.Get(ctx, c.WebhookConfiguration, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		changed := false
		cfg = cfg.DeepCopy()
		for i := range cfg.Webhooks {
			if !bytes.Equal(cfg.Webhooks[i].ClientConfig.CABundle, bundle) {
				cfg.Webhooks[i].ClientConfig.CABundle = bundle
				changed = true
			}
		}
		if !changed {
			return true, nil
		}
		_, err = hooks.Update(ctx, cfg, metav1.UpdateOptions{FieldManager: "cassandra-backup-operator"})
		if apierrors.IsConflict(err) {
			return false, nil
		}
		if err == nil {
			klog.FromContext(ctx).Info("Patched the webhook's caBundle", "configuration", c.WebhookConfiguration)
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("caBundle of MutatingWebhookConfiguration %s: %w", c.WebhookConfiguration, err)
	}
	return nil
}

// FileCertificates serves a certificate mounted from files (cert-manager, for example),
// reloading it when the files change.
type FileCertificates struct {
	// CertFile and KeyFile are the PEM certificate chain and key.
	CertFile, KeyFile string
	// CheckInterval is the least time between two checks of the files; 10s when 0.
	CheckInterval time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

// Load reads the files now.
func (f *FileCertificates) Load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load(time.Now())
}

func (f *FileCertificates) load(now time.Time) error {
	f.checked = now
	mod := time.Time{}
	for _, p := range []string{f.CertFile, f.KeyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("webhook certificate: %w", err)
		}
		if fi.ModTime().After(mod) {
			mod = fi.ModTime()
		}
	}
	if f.cert != nil && mod.Equal(f.modTime) {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("webhook certificate %s: %w", f.CertFile, err)
	}
	f.cert, f.modTime = &cert, mod
	return nil
}

// GetCertificate returns the certificate, reloaded when the files changed; a failed
// reload keeps the previous certificate.
func (f *FileCertificates) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	every := f.CheckInterval
	if every <= 0 {
		every = 10 * time.Second
	}
	now := time.Now()
	if f.cert == nil || now.Sub(f.checked) >= every {
		if err := f.load(now); err != nil && f.cert == nil {
			return nil, err
		}
	}
	return f.cert, nil
}
