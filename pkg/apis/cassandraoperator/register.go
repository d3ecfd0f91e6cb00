// Package cassandraoperator holds the API group name shared by all its versions.
package cassandraoperator

// GroupName is the API group of the CassandraBackup and CassandraDataCenter kinds.
const GroupName = "cassandraoperator.instaclustr.com"
