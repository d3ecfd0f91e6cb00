// Package v1alpha1 is the v1alpha1 version of the cassandraoperator.instaclustr.com API:
// CassandraBackup, and the restore part of CassandraDataCenter.
//
// +k8s:deepcopy-gen=package
// +groupName=cassandraoperator.instaclustr.com
package v1alpha1
