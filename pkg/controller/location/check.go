package location

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// failure is a failed check: the Available condition's reason and message.
type failure struct {
	reason, msg string
}

func (f *failure) Error() string { return f.reason + ": " + f.msg }

// credentials reads the location's Secret now and applies the guide's rules to it. A
// missing Secret or a broken rule is a *failure (BadCredentials); another error reading
// the Secret is returned as is.
func (c *Controller) credentials(ctx context.Context, l *v1alpha1.CassandraBackupLocation) (storage.Credentials, error) {
	loc, err := storage.ParseLocation(l.Spec.StorageLocation)
	if err != nil {
		return storage.Credentials{}, &failure{v1alpha1.LocationReasonUnreachable, fmt.Sprintf("spec.storageLocation: %v", err)}
	}
	var creds storage.Credentials
	if name := l.Spec.Secret; name != "" {
		creds, err = secret.Reader{Kube: c.kube}.Read(ctx, l.Namespace, name)
		switch {
		case apierrors.IsNotFound(err):
			return creds, &failure{v1alpha1.LocationReasonBadCredentials, fmt.Sprintf("Secret %s not found in namespace %s", name, l.Namespace)}
		case err != nil:
			return creds, err
		}
	}
	if err := creds.Check(loc.Scheme, l.Spec.Insecure, c.cfg.Storage.GCSEndpoint); err != nil {
		return creds, &failure{v1alpha1.LocationReasonBadCredentials, err.Error()}
	}
	return creds, nil
}

// open opens the location with the credentials, with few retries: a check reports, it
// does not wait out an outage.
func (c *Controller) open(ctx context.Context, l *v1alpha1.CassandraBackupLocation, creds storage.Credentials) (storage.Provider, error) {
	cfg := c.cfg.Storage
	cfg.Insecure = l.Spec.Insecure
	cfg.Credentials = storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) { return creds, nil })
	cfg.Retry = storage.Retry{MaxAttempts: 2, MaxBackoff: time.Second}
	p, _, err := storage.OpenLocation(ctx, l.Spec.StorageLocation, cfg)
	if err != nil {
		return nil, classify(fmt.Errorf("open %s: %w", l.Spec.StorageLocation, err))
	}
	return p, nil
}

// probe checks that the bucket exists (unless skipBucketVerification; it is created with
// createMissingBucket) and that an object can be put, read back and deleted under
// ProbePrefix. The error is a *failure.
func (c *Controller) probe(ctx context.Context, l *v1alpha1.CassandraBackupLocation, p storage.Provider) error {
	if !l.Spec.SkipBucketVerification {
		ok, err := p.BucketExists(ctx)
		if err != nil {
			return classify(err)
		}
		if !ok && !l.Spec.CreateMissingBucket {
			return &failure{v1alpha1.LocationReasonBucketMissing, fmt.Sprintf("bucket %s does not exist: create it, or set spec.createMissingBucket", p.Bucket())}
		}
		if !ok {
			if err := p.CreateBucket(ctx); err != nil && !errors.Is(err, storage.ErrBucketExists) {
				return classify(fmt.Errorf("create bucket %s: %w", p.Bucket(), err))
			}
		}
	}
	key := ProbePrefix + l.Namespace + "/" + l.Name + "-" + string(l.UID)
	body := []byte("cassandra-backup-operator location probe " + c.cfg.Clock.Now().UTC().Format(time.RFC3339Nano))
	if _, err := p.Put(ctx, key, bytes.NewReader(body), storage.PutOptions{ContentType: "text/plain"}); err != nil {
		return classify(fmt.Errorf("write %s: %w", key, err))
	}
	r, err := p.Get(ctx, key, storage.Range{})
	if err != nil {
		return classify(fmt.Errorf("read back %s: %w", key, err))
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(body))+1))
	r.Close()
	if err != nil {
		return classify(fmt.Errorf("read back %s: %w", key, err))
	}
	if !bytes.Equal(got, body) {
		return &failure{v1alpha1.LocationReasonUnreachable, fmt.Sprintf("%s read back %d bytes that differ from the %d written", key, len(got), len(body))}
	}
	if err := p.Delete(ctx, key); err != nil {
		return classify(fmt.Errorf("delete %s: %w", key, err))
	}
	return nil
}

// classify turns a storage error into a *failure with the Available reason that names
// its kind.
func classify(err error) error {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	reason := v1alpha1.LocationReasonUnreachable
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, storage.ErrAccessDenied):
		reason = v1alpha1.LocationReasonBadCredentials
	case errors.Is(err, storage.ErrBucketNotFound):
		reason = v1alpha1.LocationReasonBucketMissing
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify), errors.As(err, &header):
		reason = v1alpha1.LocationReasonTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		reason = v1alpha1.LocationReasonTimeout
	}
	return &failure{reason, err.Error()}
}
