// Package cassandra controls a Cassandra node (flush, snapshots, tokens, host id, schema
// version, SSTable import) and reads the SSTables of its data directories.
package cassandra
