package location

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("head bucket: %w", storage.AccessDenied(errors.New("403"), 403)), v1alpha1.LocationReasonBadCredentials},
		{fmt.Errorf("put: %w", storage.ErrBucketNotFound), v1alpha1.LocationReasonBucketMissing},
		{fmt.Errorf("get: %w", &x509.UnknownAuthorityError{}), v1alpha1.LocationReasonTLS},
		{fmt.Errorf("get: %w", x509.HostnameError{Host: "x"}), v1alpha1.LocationReasonTLS},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), v1alpha1.LocationReasonTimeout},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, v1alpha1.LocationReasonUnreachable},
		{errors.New("500"), v1alpha1.LocationReasonUnreachable},
		{storage.AccessDenied(errors.New("404"), 404), v1alpha1.LocationReasonUnreachable},
	} {
		var f *failure
		if !errors.As(classify(c.err), &f) || f.reason != c.want {
			t.Errorf("classify(%v) = %v, want %s", c.err, f, c.want)
		}
	}
}
