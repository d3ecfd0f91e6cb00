package operator

import (
	"flag"
	"reflect"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	c.BindFlags(fs)
	err := fs.Parse([]string{
		"--namespace", "a", "--namespace", "b,c", "--workers", "8", "--leader-elect",
		"--leader-elect-lease-duration", "4s", "--kube-api-qps", "12.5", "--webhook-port", "9444",
		"--webhook-cert-dir", "/certs", "--metrics-bind-address", "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Namespaces, []string{"a", "b", "c"}) {
		t.Errorf("namespaces = %v", c.Namespaces)
	}
	if c.Workers != 8 || !c.LeaderElect || c.LeaseDuration != 4*time.Second || c.QPS != 12.5 ||
		c.WebhookPort != 9444 || c.WebhookCertDir != "/certs" || c.MetricsAddr != "0" || c.HealthAddr != ":8081" {
		t.Errorf("config = %+v", c)
	}
	if err := fs.Parse([]string{"--namespace", "a,,b"}); err == nil {
		t.Error("an empty namespace was accepted")
	}
}

func TestDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	if c.Workers != 4 || c.LeaseDuration != 15*time.Second || c.RenewDeadline != 10*time.Second ||
		c.RetryPeriod != 2*time.Second || c.QPS != 50 || c.Burst != 100 || c.LeaderElectionID == "" {
		t.Errorf("defaults = %+v", c)
	}
}
