package guide

import (
	"context"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// OperatorServiceAccount is the ServiceAccount, in the Env's namespace, whose tokens the
// operator sends to the agents when it runs as the administrator.
const OperatorServiceAccount = controlplane.OperatorAccount

// AgentClient is the operator's client of the agents: tokens of OperatorServiceAccount
// minted with the TokenRequest API for the namespace's audience.
func (e *Env) AgentClient() *client.Client {
	return &client.Client{Tokens: &client.TokenRequester{Kube: e.Kube, Namespace: e.Namespace, Name: OperatorServiceAccount}}
}

// EnsureOperatorAccount creates OperatorServiceAccount and its rights on the agents.
func (e *Env) EnsureOperatorAccount(ctx context.Context) error {
	_, err := controlplane.EnsureOperatorAccount(ctx, e.Kube, e.Namespace)
	return err
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
