// Package cassandra is what the operator and the agent share about Cassandra: the Node
// interface the agent controls a node through (flush, snapshots, tokens, host id, schema
// version, SSTable import), entity and table-directory names, and reading the SSTables of
// data directories. The Jolokia implementation of Node lives in pkg/cassandra/jolokia,
// which the operator does not link.
package cassandra
