// Package profile says how the pods of a Cassandra datacenter are shaped by the operator
// that runs them: the labels that carry cluster, datacenter and rack, how pods are named,
// the Cassandra container, the data directory and how the agent controls the node. It is
// the one source of these facts (label keys included) for the informers, the controllers,
// the webhook and the admission policies. Two profiles ship: Instaclustr's
// cassandra-operator (the guide's setup, the default) and cass-operator / K8ssandra.
//
// A pod's profile is detected from its labels (the only signal the webhook has at
// admission); the Annotation on a pod, a CassandraBackup or a CassandraDataCenter
// overrides detection; where there is nothing to detect from, the operator-wide default
// (Registry.Default) applies.
package profile

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// Names of the shipped profiles.
const (
	// Instaclustr is Instaclustr's cassandra-operator: the guide's pods.
	Instaclustr = "instaclustr"
	// CassOperator is cass-operator (alone or inside K8ssandra).
	CassOperator = "cass-operator"
)

// Annotation, on a pod, a CassandraBackup or a CassandraDataCenter, names the profile to
// use instead of the detected one or the default.
const Annotation = "cassandraoperator.instaclustr.com/profile"

// Pod labels of Instaclustr's cassandra-operator.
const (
	// InstaclustrCluster carries the Cassandra cluster name.
	InstaclustrCluster = "cassandra-operator.instaclustr.com/cluster"
	// InstaclustrDatacenter carries the Cassandra datacenter name.
	InstaclustrDatacenter = "cassandra-operator.instaclustr.com/datacenter"
	// InstaclustrRack carries the Cassandra rack.
	InstaclustrRack = "cassandra-operator.instaclustr.com/rack"
)

// Pod labels of cass-operator.
const (
	// CassOperatorCluster carries the Cassandra cluster name.
	CassOperatorCluster = "cassandra.datastax.com/cluster"
	// CassOperatorDatacenter carries the Cassandra datacenter name.
	CassOperatorDatacenter = "cassandra.datastax.com/datacenter"
	// CassOperatorRack carries the Cassandra rack.
	CassOperatorRack = "cassandra.datastax.com/rack"
)

// NodeControl is how the agent controls its Cassandra node (the agent's --node-control).
type NodeControl string

// The agent's node-control backends.
const (
	// Jolokia is JMX over HTTP JSON, on the pod's 127.0.0.1:8778.
	Jolokia NodeControl = "jolokia"
	// ManagementAPI is the Management API for Apache Cassandra, on the pod's 127.0.0.1:8080.
	ManagementAPI NodeControl = "management-api"
)

// Labels names the labels that carry a Cassandra pod's cluster, datacenter and rack.
// Empty fields take Instaclustr's labels.
type Labels struct {
	// Cluster, Datacenter and Rack are label keys.
	Cluster, Datacenter, Rack string
}

// OrDefault returns l with Instaclustr's labels in place of empty fields.
func (l Labels) OrDefault() Labels {
	if l.Cluster == "" {
		l.Cluster = InstaclustrCluster
	}
	if l.Datacenter == "" {
		l.Datacenter = InstaclustrDatacenter
	}
	if l.Rack == "" {
		l.Rack = InstaclustrRack
	}
	return l
}

// Selector selects the pods of a datacenter of a cluster.
func (l Labels) Selector(cluster, datacenter string) labels.Selector {
	l = l.OrDefault()
	return labels.SelectorFromSet(labels.Set{l.Cluster: cluster, l.Datacenter: datacenter})
}

// NameParts are what a pod's name is made of.
type NameParts struct {
	// Cluster and Datacenter are the Cassandra cluster and datacenter names.
	Cluster, Datacenter string
	// Resource is the name of the datacenter's Kubernetes object.
	Resource string
	// Rack is the pod's rack and Ordinal its ordinal in the rack's StatefulSet.
	Rack    string
	Ordinal int
}

// Profile is one shape of Cassandra pods.
type Profile struct {
	// Name is the profile's name (the value of Annotation).
	Name string
	// Labels carry the pods' cluster, datacenter and rack.
	Labels Labels
	// Container is the Cassandra container's name.
	Container string
	// DataDir is Cassandra's directory in the container (data/, commitlog/, … below it).
	DataDir string
	// NodeControl is how the agent in these pods controls Cassandra.
	NodeControl NodeControl
	// PodName names the pod of a rack and ordinal.
	PodName func(NameParts) string
}

// DataFileDir is the data file directory (DataDir/data).
func (p Profile) DataFileDir() string { return strings.TrimRight(p.DataDir, "/") + "/data" }

// InstaclustrProfile is Instaclustr's cassandra-operator: StatefulSets
// cassandra-<datacenter resource>-<rack>, Jolokia.
var InstaclustrProfile = Profile{
	Name:        Instaclustr,
	Labels:      Labels{Cluster: InstaclustrCluster, Datacenter: InstaclustrDatacenter, Rack: InstaclustrRack},
	Container:   "cassandra",
	DataDir:     "/var/lib/cassandra",
	NodeControl: Jolokia,
	PodName: func(n NameParts) string {
		return "cassandra-" + n.Resource + "-" + n.Rack + "-" + strconv.Itoa(n.Ordinal)
	},
}

// CassOperatorProfile is cass-operator: StatefulSets <cluster>-<dc>-<rack>-sts (each part
// cleaned up to a DNS label), the Management API.
var CassOperatorProfile = Profile{
	Name:        CassOperator,
	Labels:      Labels{Cluster: CassOperatorCluster, Datacenter: CassOperatorDatacenter, Rack: CassOperatorRack},
	Container:   "cassandra",
	DataDir:     "/var/lib/cassandra",
	NodeControl: ManagementAPI,
	PodName: func(n NameParts) string {
		return DNSName(n.Cluster) + "-" + DNSName(n.Datacenter) + "-" + DNSName(n.Rack) + "-sts-" + strconv.Itoa(n.Ordinal)
	},
}

// DNSName cleans a name up for use in a Kubernetes object name the way cass-operator does:
// lower case, and every character that is not a letter, a digit or '-' replaced by '-'.
func DNSName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}
