package api

// The agent's keyspace endpoints, which the operator uses to rewrite a restored
// datacenter's replication (a datacenter rename): GET KeyspacesPath lists the node's
// keyspaces with their replication ([]Keyspace); POST ReplicationPath(keyspace) with an
// AlterReplication sets one keyspace's replication. Both go through the node's control;
// one that cannot (Jolokia) answers 501 Not Implemented.

// KeyspacesPath lists the node's keyspaces.
const KeyspacesPath = "/keyspaces"

// ReplicationPath is where a keyspace's replication is altered.
func ReplicationPath(keyspace string) string { return KeyspacesPath + "/" + keyspace + "/replication" }

// Keyspace is one keyspace of the node.
type Keyspace struct {
	// Name is the keyspace's name.
	Name string `json:"name"`
	// Replication is its replication as system_schema.keyspaces holds it: "class" and the
	// strategy's options (datacenter → factor for NetworkTopologyStrategy).
	Replication map[string]string `json:"replication"`
}

// AlterReplication is the body of a replication change: the keyspace gets
// NetworkTopologyStrategy with exactly these factors.
type AlterReplication struct {
	// Factors are the datacenters and their replication factors.
	Factors map[string]int `json:"factors"`
}
