package controlplane

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
)

// OperatorAccount is the ServiceAccount, in a test's namespace, whose tokens the test's
// operator sends to the agents there (they authorize its requests with
// SubjectAccessReviews).
const OperatorAccount = "cassandra-backup-operator"

// EnsureOperatorAccount creates OperatorAccount in ns and what the agents check it may do
// there: drive operations and read the namespace's Secrets. It returns the operator's
// client of the agents of ns, with tokens minted by the TokenRequest API.
func EnsureOperatorAccount(ctx context.Context, kube kubernetes.Interface, ns string) (*client.Client, error) {
	name := OperatorAccount
	_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create ServiceAccount %s: %w", name, err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name + "-agents"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{api.OperationsGroup}, Resources: []string{api.OperationsResource + "/" + api.OperationsSubresource}, Verbs: []string{"get", "create", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create Role %s: %w", role.Name, err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: name}}}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create RoleBinding %s: %w", rb.Name, err)
	}
	return (&client.Client{Tokens: &client.TokenRequester{Kube: kube, Namespace: ns, Name: name}}).For(ns), nil
}
