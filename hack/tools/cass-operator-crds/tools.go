//go:build tools

// Package tools pins cass-operator's published Go API types, from which hack/tools.sh
// generates the cassandradatacenters.cassandra.datastax.com CRD with controller-gen (part
// of its thirdparty-crds directory) for the tests of the annotation-driven restore.
//
// It is a module of its own, not part of hack/tools/thirdparty-crds: cass-operator
// v1.22.4 builds against controller-runtime v0.17 (it imports pkg/config/v1alpha1,
// removed later) while cert-manager v1.21 requires v0.24, and one module can hold only
// one. v1.22.4 is pinned exactly: the Go proxy serves it, while newer versions fail the
// checksum database and the version list is refused.
package tools

import _ "github.com/k8ssandra/cass-operator/apis/cassandra/v1beta1"
