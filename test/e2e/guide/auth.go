package guide

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
)

// OperatorServiceAccount is the ServiceAccount, in the Env's namespace, whose tokens the
// operator sends to the agents (they authorize its requests with SubjectAccessReviews).
const OperatorServiceAccount = "cassandra-backup-operator"

// AgentClient is the operator's client of the agents: tokens of OperatorServiceAccount
// minted with the TokenRequest API for the namespace's audience.
func (e *Env) AgentClient() *client.Client {
	return &client.Client{Tokens: &client.TokenRequester{Kube: e.Kube, Namespace: e.Namespace, Name: OperatorServiceAccount}}
}

// EnsureOperatorAccount creates OperatorServiceAccount and what the agents check it may do
// in the namespace: drive operations, and read the namespace's Secrets.
func (e *Env) EnsureOperatorAccount(ctx context.Context) error {
	name := OperatorServiceAccount
	_, err := e.Kube.CoreV1().ServiceAccounts(e.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s: %w", name, err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name + "-agents"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{api.OperationsGroup}, Resources: []string{api.OperationsResource + "/" + api.OperationsSubresource}, Verbs: []string{"get", "create", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}}
	if _, err := e.Kube.RbacV1().Roles(e.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Role %s: %w", role.Name, err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: e.Namespace, Name: name}}}
	if _, err := e.Kube.RbacV1().RoleBindings(e.Namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create RoleBinding %s: %w", rb.Name, err)
	}
	return nil
}

// operatorRun is who the operator binary runs as.
type operatorRun struct {
	kubeconfig string
	namespace  string // its own namespace (POD_NAMESPACE)
	webhook    string // the webhook configuration it may keep
	args       []string
}

// operatorIdentity prepares the operator binary's identity: the shipped install's
// ServiceAccount with the shipped RBAC (OwnAccounts), or the administrator's kubeconfig
// with OperatorServiceAccount's tokens for the agents.
func (e *Env) operatorIdentity(ctx context.Context) (operatorRun, error) {
	if !e.OwnAccounts {
		err := e.EnsureOperatorAccount(ctx)
		return operatorRun{kubeconfig: e.Kubeconfig, namespace: e.Namespace, webhook: "cassandra-backup-" + e.Namespace,
			args: []string{"--agent-service-account=" + e.Namespace + "/" + OperatorServiceAccount}}, err
	}
	if err := e.InstallShippedRBAC(ctx); err != nil {
		return operatorRun{}, err
	}
	kc, err := e.ServiceAccountKubeconfig(ctx, ShippedNamespace, ShippedServiceAccount)
	// No --agent-service-account: the operator finds its own with a SelfSubjectReview.
	return operatorRun{kubeconfig: kc, namespace: ShippedNamespace, webhook: ShippedWebhook}, err
}

// AgentKubeconfig is the kubeconfig of the agents (sidecars and restore init containers):
// AgentServiceAccount's with OwnAccounts, else the administrator's.
func (e *Env) AgentKubeconfig(ctx context.Context) (string, error) {
	if !e.OwnAccounts {
		return e.Kubeconfig, nil
	}
	if err := e.InstallShippedRBAC(ctx); err != nil {
		return "", err
	}
	return e.ServiceAccountKubeconfig(ctx, e.Namespace, AgentServiceAccount)
}
