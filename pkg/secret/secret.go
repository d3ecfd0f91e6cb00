// Package secret reads storage credentials from Kubernetes Secrets: the one reader of the
// guide's Secret keys, used by the controllers and by the agent. A Secret is read through
// the API at the moment of use, never cached and never copied, so a rotated Secret takes
// effect on the next read; its values never appear in errors.
package secret

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// Reader reads credentials from Secrets through the Kubernetes API.
type Reader struct {
	// Kube reads Secrets.
	Kube kubernetes.Interface
}

// Read returns the credentials held by the Secret namespace/name, from its data and its
// stringData. The error wraps the API's, so apierrors.IsNotFound tells a missing Secret.
func (r Reader) Read(ctx context.Context, namespace, name string) (storage.Credentials, error) {
	s, err := r.Kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return storage.Credentials{}, fmt.Errorf("read secret %s/%s: %w", namespace, name, err)
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return storage.NewCredentials(data), nil
}

// Source returns a credential source that reads the Secret namespace/name at every use.
func (r Reader) Source(namespace, name string) storage.CredentialSource {
	return storage.CredentialSourceFunc(func(ctx context.Context) (storage.Credentials, error) {
		return r.Read(ctx, namespace, name)
	})
}
