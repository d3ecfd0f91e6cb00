// Package agent is the cassandra-backup-agent: it serves the Icarus-compatible operations
// API (pkg/agent/api) next to a Cassandra node, and its backup and restore operations move
// the node's SSTables to and from storage in Esop's layout. Backups snapshot the node,
// upload what the bucket does not hold yet and write the manifest last; restores read the
// backup through layout.Catalog, verify every file and record the restore key
// (pkg/plan) in a marker. Credentials come from pkg/secret, at the moment of use.
package agent
