// Package metrics exports the state of backups and restores as Prometheus metrics. It is
// an operator component that runs on the leader, like the controllers: while it leads,
//
//   - a collector reads the informer caches at each scrape: backups by namespace and state,
//     the last successful backup's completion time per namespace, cluster and datacenter,
//     and each datacenter's restore state. Computed from the objects, these survive an
//     operator restart or a change of leader;
//   - an informer handler observes each backup's and each restore's move into a final
//     state (completed, failed, cancelled) into duration and size histograms, once, on the
//     process that leads when it happens. The same handler logs one line per state
//     change ("Backup state changed", "Restore state changed", with the object, from and
//     to), at error level with the nodes' messages when a backup or restore failed.
//
// The webhook's admission metrics live with the webhook (pkg/webhook/metrics.go), client-go's
// REST client and leader-election metrics with the process (pkg/operator/clientmetrics.go).
// Every name is in names.go, the one list the alert rules and the dashboard are checked
// against.
package metrics
