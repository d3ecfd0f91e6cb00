package operator

import (
	"strings"

	"k8s.io/client-go/util/workqueue"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// WorkqueueMetrics returns d.QueueMetrics as a provider, and a nil interface (no metrics)
// when it is nil: a nil pointer in the interface would be called.
func (d Deps) WorkqueueMetrics() workqueue.MetricsProvider {
	if d.QueueMetrics == nil {
		return nil
	}
	return d.QueueMetrics
}

// StorageConfig is the base storage configuration of the controllers: the endpoint
// overrides from the flags. Credentials come from each backup's Secret.
func (d Deps) StorageConfig() storage.Config {
	return storage.Config{AzureEndpoint: d.Config.AzureEndpoint, GCSEndpoint: d.Config.GCSEndpoint}
}

// AgentClient is the client of the agents' API: it sends each namespace's agents a
// ServiceAccount token bound to that namespace's audience, from --agent-token-file or
// minted with the TokenRequest API (--agent-service-account).
func (d Deps) AgentClient() *client.Client {
	if d.Config.AgentTokenFile != "" {
		return &client.Client{Tokens: client.TokenFile(d.Config.AgentTokenFile)}
	}
	ns, name, _ := strings.Cut(d.Config.AgentServiceAccount, "/")
	return &client.Client{Tokens: &client.TokenRequester{Kube: d.KubeClient, Namespace: ns, Name: name}}
}
