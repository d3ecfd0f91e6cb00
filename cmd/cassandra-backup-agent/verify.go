package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
)

// errVerificationFailed makes the drill's container exit 1 after its result is written.
var errVerificationFailed = errors.New("the backup did not verify")

// verifyBackup runs the restore drill (pkg/verify) against a backup and writes its
// summary to the termination message file, where the operator reads it.
func verifyBackup(ctx context.Context, argv []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var c common
	c.register(fs)
	location := fs.String("storage-location", "", "the backup's storage location, e.g. s3://bucket")
	tag := fs.String("snapshot-tag", "", "the backup's snapshot tag")
	cluster := fs.String("cluster", "", "the backup's Cassandra cluster name")
	datacenter := fs.String("datacenter", "", "the backup's datacenter")
	namespace := fs.String("k8s-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the credentials Secret")
	secretName := fs.String("k8s-secret-name", "", "the credentials Secret; credentials from the environment when empty")
	insecure := fs.Bool("insecure", false, "talk to the storage over HTTP")
	sample := fs.String("sample", "", "percentage of each node's objects to download, e.g. 10%; every object when empty")
	concurrency := fs.Int("concurrent-connections", verify.DefaultConcurrency, "SSTables checked at once")
	timeout := fs.Duration("timeout", 6*time.Hour, "give up after this long")
	resultPath := fs.String("termination-message-path", "/dev/termination-log", "file the summary is written to (the container's terminationMessagePath); none when empty")
	if err := parse(fs, argv); err != nil {
		return err
	}
	if err := c.logs.Apply(); err != nil {
		return err
	}
	fraction, err := verify.ParseSample(*sample)
	if err != nil {
		return err
	}
	if *location == "" || *tag == "" || *cluster == "" || *datacenter == "" {
		return fmt.Errorf("--storage-location, --snapshot-tag, --cluster and --datacenter are required")
	}
	a, err := c.agent(nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	logger := klog.FromContext(ctx)
	p, _, err := a.OpenStorage(ctx, &api.Request{StorageLocation: *location, Insecure: *insecure, K8sNamespace: *namespace, K8sSecretName: *secretName})
	if err != nil {
		return err
	}
	defer p.Close()
	logger.Info("Verifying backup", "location", *location, "cluster", *cluster, "datacenter", *datacenter, "tag", *tag, "sample", fraction)
	res, err := verify.Run(ctx, verify.Options{Storage: p, Cluster: *cluster, Datacenter: *datacenter, Tag: *tag, Sample: fraction, Concurrency: *concurrency})
	if err != nil {
		return err
	}
	for _, n := range append(res.Nodes, res.Backup) {
		if n.Node != "" {
			logger.Info("Node verified", "node", n.Node, "hostId", n.HostID, "objects", n.Objects, "of", n.Total, "bytes", n.Bytes, "failures", n.FailureCount)
		}
		for _, f := range n.Failures {
			logger.Error(nil, "Verification failure", "node", n.Node, "key", f.Key, "reason", f.Reason)
		}
	}
	if *resultPath != "" {
		if err := os.WriteFile(*resultPath, verify.Summary(res), 0o644); err != nil {
			return fmt.Errorf("write the result: %w", err)
		}
	}
	logger.Info("Verification done", "result", res.Message())
	if res.Failed() {
		return fmt.Errorf("%w: %s", errVerificationFailed, res.Message())
	}
	return nil
}
