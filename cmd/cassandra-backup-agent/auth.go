package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// authFlags configure who may call the operations API.
type authFlags struct {
	namespace    string
	audience     string
	cacheTTL     time.Duration
	insecureSkip bool
}

func (f *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.namespace, "pod-namespace", os.Getenv("POD_NAMESPACE"), "this pod's namespace: callers are authorized there, their tokens must carry its audience")
	fs.StringVar(&f.audience, "auth-audience", "", "audience the callers' tokens must carry; cassandra-backup-agent.<pod namespace> when empty")
	fs.DurationVar(&f.cacheTTL, "auth-cache-ttl", 10*time.Second, "how long a TokenReview or SubjectAccessReview answer is reused")
	fs.BoolVar(&f.insecureSkip, "insecure-skip-auth", false, "DANGEROUS, local development only: serve the operations API to anyone who can reach it, without authentication")
}

// guard is the API's Guard: a KubeAuth over the agent's Kubernetes configuration, or
// nothing with --insecure-skip-auth, said loudly.
func (f *authFlags) guard(ctx context.Context, c *common) (agent.Guard, error) {
	if f.insecureSkip {
		klog.FromContext(ctx).Info("WARNING: --insecure-skip-auth: the operations API is open to anyone who can reach it; anyone can back this node up to a bucket of their choice with its Secrets or import SSTables into it")
		fmt.Fprintln(os.Stderr, "cassandra-backup-agent: WARNING: authentication is OFF (--insecure-skip-auth); never run this way in a cluster")
		return nil, nil
	}
	cfg, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errors.New("the operations API authenticates callers with the Kubernetes API: run in a cluster or pass --kubeconfig (--insecure-skip-auth turns authentication off, for local development only)")
	}
	if f.namespace == "" {
		return nil, errors.New("--pod-namespace (or POD_NAMESPACE) is required: callers are authorized in the pod's namespace")
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	aud := f.audience
	if aud == "" {
		aud = api.Audience(f.namespace)
	}
	klog.FromContext(ctx).Info("Callers are authenticated by TokenReview and authorized by SubjectAccessReview", "audience", aud, "namespace", f.namespace)
	return &agent.KubeAuth{Kube: kube, Namespace: f.namespace, Audience: aud, TTL: f.cacheTTL}, nil
}
