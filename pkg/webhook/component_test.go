package webhook

import (
	"strings"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/fake"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
)

func TestNewFromOperatorConfig(t *testing.T) {
	kube, client := kubefake.NewClientset(), fake.NewClientset()
	deps := func(cfg operator.Config) operator.Deps {
		return operator.Deps{KubeClient: kube, Client: client, Informers: informers.New(kube, client, informers.Config{}), Config: cfg}
	}
	if c, err := New(deps(operator.Config{})); c != nil || err != nil {
		t.Errorf("port 0: got %v, %v; want the webhook switched off", c, err)
	}
	if _, err := New(deps(operator.Config{WebhookPort: 9443, WebhookCertIPs: []string{"not-an-ip"}})); err == nil || !strings.Contains(err.Error(), `--webhook-cert-ip "not-an-ip"`) {
		t.Errorf("bad IP: %v", err)
	}
	if _, err := New(deps(operator.Config{WebhookPort: 9443, WebhookMountedCerts: true, WebhookCertDir: t.TempDir()})); err == nil || !strings.Contains(err.Error(), "webhook certificates from") {
		t.Errorf("mounted certificates missing: %v", err)
	}
	c, err := New(deps(operator.Config{WebhookPort: 9443, WebhookBindAddress: "127.0.0.1", WebhookCertSecret: "s", WebhookService: "svc", WebhookCertIPs: []string{"127.0.0.1"}, AgentImage: "img"}))
	if err != nil {
		t.Fatal(err)
	}
	comp, ok := c.(*component)
	if _, replicated := c.(operator.Replicated); !ok || !replicated {
		t.Fatalf("%T is not a replicated webhook component", c)
	}
	if comp.server.Addr != "127.0.0.1:9443" || comp.certs.SecretName != "s" || comp.certs.ServiceName != "svc" || len(comp.certs.IPs) != 1 || comp.server.Config.AgentImage != "img" {
		t.Errorf("component = %+v, certs %+v", comp.server, comp.certs)
	}
}
