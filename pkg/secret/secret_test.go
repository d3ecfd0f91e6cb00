package secret

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRead(t *testing.T) {
	kube := fake.NewSimpleClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Data:       map[string][]byte{"awsregion": []byte("eu-central-1")},
		StringData: map[string]string{"awsaccesskeyid": "id", "awssecretaccesskey": "key"},
	})
	r := Reader{Kube: kube}
	c, err := r.Source("ns", "s").Credentials(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	aws, err := c.AWS(false)
	if err != nil || aws.Region != "eu-central-1" || aws.AccessKeyID != "id" || aws.SecretAccessKey != "key" {
		t.Errorf("AWS() = %+v, %v; want the region from data and the keys from stringData", aws, err)
	}
	if _, err := r.Read(t.Context(), "ns", "missing"); !apierrors.IsNotFound(err) {
		t.Errorf("missing secret: %v, want a NotFound error", err)
	}
}
