package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cdc,categories=cassandra
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.cluster`
// +kubebuilder:printcolumn:name="Datacenter",type=string,JSONPath=`.spec.datacenter`
// +kubebuilder:printcolumn:name="Restore",type=string,JSONPath=`.spec.restore.backupName`,description="The backup this datacenter restores"
// +kubebuilder:printcolumn:name="Restore State",type=string,JSONPath=`.status.restore.state`
// +kubebuilder:printcolumn:name="Restored",type=string,JSONPath=`.status.restore.size`,description="Bytes restored / bytes to restore, all pods together"
// +kubebuilder:printcolumn:name="Rate",type=string,JSONPath=`.status.restore.rate`,description="Download rate over the last 30 s, all pods together"
// +kubebuilder:printcolumn:name="ETA",type=string,JSONPath=`.status.restore.eta`,description="Time left until the slowest pod is restored"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CassandraDataCenter is a Cassandra datacenter whose pods another operator runs. This
// operator owns only spec.restore and status.restore: with spec.restore set, every new pod
// of the datacenter restores its node's SSTables from the backup before Cassandra starts.
type CassandraDataCenter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the datacenter. Fields this operator does not know are kept as they are.
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec CassandraDataCenterSpec `json:"spec"`
	// Status reports the restore; other fields are kept as they are.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Status CassandraDataCenterStatus `json:"status,omitempty"`
}

// CassandraDataCenterSpec holds the fields a restore reads. The operator that runs the
// datacenter may keep any other field here.
type CassandraDataCenterSpec struct {
	// Cluster is the Cassandra cluster name of this datacenter. Restoring a backup of
	// another cluster name clones that cluster under this name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Cluster string `json:"cluster,omitempty"`

	// Datacenter is the Cassandra datacenter name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Datacenter string `json:"datacenter,omitempty"`

	// Nodes is the number of Cassandra nodes in the datacenter.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Nodes *int32 `json:"nodes,omitempty"`

	// Racks are the datacenter's racks; restored pods are mapped to backed-up nodes by
	// rack, then by ordinal.
	// +optional
	Racks []Rack `json:"racks,omitempty"`

	// Restore, when set, makes every new pod of this datacenter restore its node's data
	// from a backup before Cassandra starts. Once set it cannot change, only be removed:
	// pointing a restored datacenter at another backup would restore over its live data.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.restore cannot change once set; remove it first (a restore never runs over a live datacenter)"
	Restore *RestoreSpec `json:"restore,omitempty"`
}

// Rack is one rack of the datacenter. Fields this operator does not know are kept.
// +kubebuilder:pruning:PreserveUnknownFields
type Rack struct {
	// Name of the rack.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// RestoreSpec names the backup a datacenter restores.
type RestoreSpec struct {
	// BackupName is the name of a CassandraBackup in this namespace; it must exist and
	// be COMPLETED (use justCreate to import a backup taken elsewhere).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	BackupName string `json:"backupName"`

	// Secret is the name of the Secret with the storage credentials. Its name, never its
	// content, is given to the restore init containers, which read it at the moment of
	// use. Unset means the backup's secret.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Secret string `json:"secret,omitempty"`

	// RackMap maps the backup's racks to this datacenter's racks (source rack → target
	// rack) when their names differ. Unset: racks of the same names restore each other;
	// with other names but as many racks, the racks are paired in sorted order. A source
	// rack the map leaves out, or a target rack the datacenter does not have, is refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	RackMap map[string]string `json:"rackMap,omitempty"`

	// IncludeAuth restores system_auth too: the source's users, roles, passwords and
	// permissions replace the new datacenter's. Off by default: of the system keyspaces
	// only system_schema is restored.
	// +optional
	IncludeAuth bool `json:"includeAuth,omitempty"`

	// RenameDatacenter allows restoring into a datacenter whose spec.datacenter differs
	// from the backup's datacenter (refused without it): once the first restored node
	// serves, the operator rewrites the replication of each restored keyspace whose
	// NetworkTopologyStrategy names the backup's datacenter to name this one, with the same
	// replication factor, through the Management API; on pods whose node control has no
	// such call (Jolokia) the condition ReplicationRewritten gives the CQL to run by hand.
	// status.restore.replicationChanges lists what changed.
	// +optional
	RenameDatacenter bool `json:"renameDatacenter,omitempty"`
}

// CassandraDataCenterStatus holds the restore status; the operator that runs the
// datacenter may keep any other field here.
type CassandraDataCenterStatus struct {
	// Restore reports the restore of spec.restore.
	// +optional
	Restore *RestoreStatus `json:"restore,omitempty"`
}

// RestoreState is the state of a restore, or of one pod's part of it.
// +kubebuilder:validation:Enum=PENDING;PLANNED;RUNNING;COMPLETED;FAILED
type RestoreState string

const (
	// RestorePending waits for the backup or the plan.
	RestorePending RestoreState = "PENDING"
	// RestorePlanned has a plan; pods restore when they are created.
	RestorePlanned RestoreState = "PLANNED"
	// RestoreRunning has pods downloading their data.
	RestoreRunning RestoreState = "RUNNING"
	// RestoreCompleted has every planned pod restored.
	RestoreCompleted RestoreState = "COMPLETED"
	// RestoreFailed stopped on an error; the message says which.
	RestoreFailed RestoreState = "FAILED"
)

// RestoreStatus reports a datacenter's restore.
type RestoreStatus struct {
	// State of the whole restore.
	// +optional
	State RestoreState `json:"state,omitempty"`

	// BackupName is the backup the plan was made from.
	// +optional
	BackupName string `json:"backupName,omitempty"`

	// Plan is the name of the ConfigMap holding the restore plan: per pod, its source
	// node, tokens and JVM options.
	// +optional
	Plan string `json:"plan,omitempty"`

	// ProgressSummary is the size, rate and ETA of the pods' downloads, preformatted.
	ProgressSummary `json:",inline"`

	// Nodes is the restore state of each pod.
	// +optional
	// +listType=map
	// +listMapKey=pod
	Nodes []NodeRestoreStatus `json:"nodes,omitempty"`

	// ReplicationChanges are the keyspaces whose replication a datacenter rename
	// (spec.restore.renameDatacenter) rewrote, in the order they were rewritten.
	// +optional
	// +listType=map
	// +listMapKey=keyspace
	ReplicationChanges []ReplicationChange `json:"replicationChanges,omitempty"`

	// ObservedGeneration is the spec generation the plan was made for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready (the plan is made and pods can restore), Synced (the last
	// reconciliation succeeded; its message names the problem when it did not) and
	// RepairRequired (pods restore several backed-up nodes each: run a full repair once
	// the datacenter is up) and, with spec.restore.renameDatacenter, ReplicationRewritten
	// (the restored keyspaces' replication names this datacenter).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NodeRestoreStatus is one pod's part of a restore.
type NodeRestoreStatus struct {
	// Pod is the name of the restored pod.
	Pod string `json:"pod"`

	// SourceNode is the backed-up node (pod name at backup time) whose data and tokens
	// the pod restores; several, comma separated, when the datacenter has fewer nodes
	// than the backup.
	// +optional
	SourceNode string `json:"sourceNode,omitempty"`

	// State of the pod's restore.
	// +optional
	State RestoreState `json:"state,omitempty"`

	// Message explains the state, for example the init container's error.
	// +optional
	Message string `json:"message,omitempty"`

	// NodeRestoreProgress is the pod's download in bytes and files.
	NodeRestoreProgress `json:",inline"`

	// TransferRate is the pod's download rate over the last 30 s and its ETA.
	TransferRate `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// CassandraDataCenterList is a list of CassandraDataCenters.
type CassandraDataCenterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the datacenters.
	Items []CassandraDataCenter `json:"items"`
}
