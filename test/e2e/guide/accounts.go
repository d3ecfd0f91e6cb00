package guide

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// The shipped install (manifests/, the chart rendered with its defaults): the operator's
// namespace, ServiceAccount and webhook configuration.
const (
	ShippedNamespace      = "cassandra-backup-system"
	ShippedServiceAccount = "cassandra-backup-operator"
	ShippedWebhook        = "cassandra-backup-operator"
	// AgentServiceAccount is the agents' ServiceAccount in manifests/samples/agent-rbac.yaml.
	AgentServiceAccount = "cassandra"
)

// InstallShippedRBAC creates the objects of manifests/operator/namespace.yaml and rbac.yaml
// (the operator's ServiceAccount and rights, the agents' ClusterRoles), and in the Env's
// namespace those of manifests/samples/agent-rbac.yaml and the binding of the agents'
// auth ClusterRole the README asks for. Existing objects are left as they are.
func (e *Env) InstallShippedRBAC(ctx context.Context) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	for _, f := range []struct{ path, ns string }{
		{"manifests/operator/namespace.yaml", ""},
		{"manifests/operator/rbac.yaml", ""},
		{"manifests/samples/agent-rbac.yaml", e.Namespace},
	} {
		if err := e.createAll(ctx, filepath.Join(root, f.path), f.ns); err != nil {
			return err
		}
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cassandra-backup-agent-auth-" + e.Namespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cassandra-backup-agent-auth"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: e.Namespace, Name: AgentServiceAccount}}}
	return ignoreExists(e.Kube.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}))
}

// createAll creates every object of a YAML file, in namespace ns when the object names none.
func (e *Env) createAll(ctx context.Context, path, ns string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := dec.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := kubescheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := e.create(ctx, obj, ns); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

func (e *Env) create(ctx context.Context, obj runtime.Object, ns string) error {
	in := func(m *metav1.ObjectMeta) string {
		if m.Namespace == "" {
			m.Namespace = ns
		}
		return m.Namespace
	}
	opts := metav1.CreateOptions{}
	switch o := obj.(type) {
	case *corev1.Namespace:
		return ignoreExists(e.Kube.CoreV1().Namespaces().Create(ctx, o, opts))
	case *corev1.ServiceAccount:
		return ignoreExists(e.Kube.CoreV1().ServiceAccounts(in(&o.ObjectMeta)).Create(ctx, o, opts))
	case *rbacv1.ClusterRole:
		return ignoreExists(e.Kube.RbacV1().ClusterRoles().Create(ctx, o, opts))
	case *rbacv1.ClusterRoleBinding:
		return ignoreExists(e.Kube.RbacV1().ClusterRoleBindings().Create(ctx, o, opts))
	case *rbacv1.Role:
		return ignoreExists(e.Kube.RbacV1().Roles(in(&o.ObjectMeta)).Create(ctx, o, opts))
	case *rbacv1.RoleBinding:
		for i := range o.Subjects {
			if o.Subjects[i].Kind == "ServiceAccount" && o.Subjects[i].Namespace == "" {
				o.Subjects[i].Namespace = in(&o.ObjectMeta) // as kubectl apply -n does
			}
		}
		return ignoreExists(e.Kube.RbacV1().RoleBindings(in(&o.ObjectMeta)).Create(ctx, o, opts))
	}
	return fmt.Errorf("unexpected %T", obj)
}

func ignoreExists[T any](_ T, err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ServiceAccountKubeconfig writes a kubeconfig that authenticates as a ServiceAccount with
// a token from the TokenRequest API, valid for two hours, and returns its path.
func (e *Env) ServiceAccountKubeconfig(ctx context.Context, ns, name string) (string, error) {
	secs := int64(7200)
	tr, err := e.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token of %s/%s: %w", ns, name, err)
	}
	ca := e.Config.CAData
	if len(ca) == 0 && e.Config.CAFile != "" {
		if ca, err = os.ReadFile(e.Config.CAFile); err != nil {
			return "", err
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: e.Config.Host, CertificateAuthorityData: ca}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	path := filepath.Join(e.Dir, "kubeconfig-"+ns+"-"+name)
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return "", err
	}
	return path, clientcmd.WriteToFile(*cfg, path)
}
