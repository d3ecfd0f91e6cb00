package agent

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// KubeSecrets resolves credentials from Kubernetes Secrets, reading the Secret through the
// API at every call so that a rotated Secret takes effect on the next storage request.
func KubeSecrets(client kubernetes.Interface) SecretResolver {
	return func(namespace, name string) storage.CredentialSource {
		return storage.CredentialSourceFunc(func(ctx context.Context) (storage.Credentials, error) {
			s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return storage.Credentials{}, fmt.Errorf("read secret %s/%s: %w", namespace, name, err)
			}
			data := map[string][]byte{}
			for k, v := range s.Data {
				data[k] = v
			}
			for k, v := range s.StringData {
				data[k] = []byte(v)
			}
			return storage.NewCredentials(data), nil
		})
	}
}
