package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// lockPoll is how often a backup looks again at a collector lock that holds its node.
var lockPoll = 500 * time.Millisecond

// announce writes the backup's in-flight marker under its node's prefix, then waits while
// an unexpired collector lock holds the node: the agent's half of pkg/gc's handshake, done
// before the backup lists what the bucket holds. The returned func removes the marker;
// call it once the manifest is written or the backup has failed.
func (a *Agent) announce(ctx context.Context, p storage.Provider, node layout.Node, req *api.Request) (func(), error) {
	uid := req.BackupUID
	if uid == "" {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		uid = "op-" + hex.EncodeToString(b)
	}
	now := a.now()
	m := layout.InFlight{UID: uid, Namespace: req.K8sNamespace, SnapshotTag: req.SnapshotTag, Started: now, Expires: now.Add(req.TimeLimit())}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	key := node.MarkerKey(uid)
	if _, err := p.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return nil, fmt.Errorf("write in-flight marker %s: %w", key, err)
	}
	done := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := p.Delete(dctx, key); err != nil {
			klog.FromContext(ctx).Info("In-flight marker not removed; the collector removes it once the backup is over", "key", key, "err", err)
		}
	}
	for {
		_, locks, err := layout.Catalog{Storage: p}.InFlight(ctx, node)
		if err != nil {
			done()
			return nil, err
		}
		held := false
		for _, l := range locks {
			held = held || a.now().Before(l.Expires)
		}
		if !held {
			return done, nil
		}
		klog.FromContext(ctx).V(2).Info("A garbage collection holds the node; waiting", "node", node.Prefix())
		select {
		case <-ctx.Done():
			done()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}
