package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cres,categories=cassandra
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`,description="The CassandraBackup restored from"
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`,description="State of the whole restore"
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`,description="Bytes restored over bytes to restore, all nodes together"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CassandraRestore restores keyspaces or tables of a COMPLETED CassandraBackup into a
// running datacenter: every node downloads its part of the backup and loads it through
// node control (import on Cassandra 4.0+, refresh on 3.x), coordinated by the operator.
type CassandraRestore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to restore, from which backup, into which datacenter.
	Spec CassandraRestoreSpec `json:"spec"`
	// Status reports the restore's progress, per node and as a whole.
	// +optional
	Status CassandraRestoreStatus `json:"status,omitempty"`
}

// CassandraRestoreSpec says what to restore, from which backup, into which datacenter.
// Only cancel and retry can change once it is created.
// +kubebuilder:validation:XValidation:rule="has(self.cdc) == has(oldSelf.cdc) && has(self.cluster) == has(oldSelf.cluster) && has(self.datacenter) == has(oldSelf.datacenter) && has(self.truncate) == has(oldSelf.truncate) && has(self.secret) == has(oldSelf.secret) && has(self.concurrentConnections) == has(oldSelf.concurrentConnections) && has(self.bandwidth) == has(oldSelf.bandwidth) && has(self.minFreeBytes) == has(oldSelf.minFreeBytes)",message="only cancel and retry can change: create a new CassandraRestore"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.retry) || (has(self.retry) && self.retry >= oldSelf.retry)",message="retry only grows: raise it by one to retry the failed nodes"
type CassandraRestoreSpec struct {
	// BackupName is the name of a COMPLETED CassandraBackup in this namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	BackupName string `json:"backupName"`

	// CDC is the name of the CassandraDataCenter to restore into, in this namespace. It is
	// optional (a datacenter run by another operator may have none): cluster and
	// datacenter then select the pods by their labels.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	CDC string `json:"cdc,omitempty"`

	// Cluster is the Cassandra cluster name of the target datacenter; the CDC's, else the
	// backup's, when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	Cluster string `json:"cluster,omitempty"`

	// Datacenter is the Cassandra datacenter name of the target; the CDC's, else the
	// backup's, when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	Datacenter string `json:"datacenter,omitempty"`

	// Entities are the keyspaces and tables to restore, comma separated, as in
	// "ks1,ks2.table1". System keyspaces are refused: a running node owns them.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|[, ])system(_[a-z_]+)?([., ]|$)')",message="system keyspaces cannot be restored into a running datacenter"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	Entities string `json:"entities"`

	// Truncate truncates the restored tables before anything is imported, so the result
	// equals the backup; without it the backup's rows are merged with the live ones.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	Truncate bool `json:"truncate,omitempty"`

	// Secret is the name of the Secret with the storage credentials; the backup's when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	Secret string `json:"secret,omitempty"`

	// ConcurrentConnections is how many files each node downloads at once; the backup's
	// when unset.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	ConcurrentConnections int32 `json:"concurrentConnections,omitempty"`

	// Bandwidth caps each node's download rate, in bytes per second, as a quantity such as
	// 100Mi; the backup's when unset.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	Bandwidth *resource.Quantity `json:"bandwidth,omitempty"`

	// MinFreeBytes is the free space each node must keep in its data directory after the
	// restored files are placed (headroom for compaction); 1Gi when unset. A node that
	// cannot keep it refuses before downloading anything.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable: only cancel and retry can change"
	MinFreeBytes *resource.Quantity `json:"minFreeBytes,omitempty"`

	// Retry, raised (by one, say), runs the nodes that FAILED again; nodes that completed
	// keep their import and are not run twice.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retry int32 `json:"retry,omitempty"`

	// Cancel stops the nodes that have not finished; those that finished keep their
	// import. Status says which.
	// +optional
	Cancel bool `json:"cancel,omitempty"`
}

// TableRestoreState is the state of a CassandraRestore, or of one node's part of it.
// +kubebuilder:validation:Enum=PENDING;RUNNING;COMPLETED;FAILED;CANCELLED
type TableRestoreState string

const (
	// TableRestorePending has not started on the node yet.
	TableRestorePending TableRestoreState = "PENDING"
	// TableRestoreRunning is checking, truncating, downloading or importing.
	TableRestoreRunning TableRestoreState = "RUNNING"
	// TableRestoreCompleted has every table imported.
	TableRestoreCompleted TableRestoreState = "COMPLETED"
	// TableRestoreFailed stopped on an error; the message says which.
	TableRestoreFailed TableRestoreState = "FAILED"
	// TableRestoreCancelled was cancelled before it completed.
	TableRestoreCancelled TableRestoreState = "CANCELLED"
)

// TableRestorePhase is a step every node takes before the next one starts on any node.
// +kubebuilder:validation:Enum=CHECK;TRUNCATE;IMPORT
type TableRestorePhase string

const (
	// TableRestoreCheck checks table ids and free disk space, and changes nothing.
	TableRestoreCheck TableRestorePhase = "CHECK"
	// TableRestoreTruncate truncates the tables (spec.truncate only).
	TableRestoreTruncate TableRestorePhase = "TRUNCATE"
	// TableRestoreImport downloads and imports the SSTables.
	TableRestoreImport TableRestorePhase = "IMPORT"
)

// CassandraRestoreStatus reports a restore's progress, per node and as a whole.
type CassandraRestoreStatus struct {
	// State of the whole restore.
	// +optional
	State TableRestoreState `json:"state,omitempty"`

	// Phase is the step the nodes are at: CHECK, TRUNCATE or IMPORT.
	// +optional
	Phase TableRestorePhase `json:"phase,omitempty"`

	// Progress is the share of bytes restored, all nodes together, as "83%".
	// +optional
	Progress string `json:"progress,omitempty"`

	// Snapshot is the backup's snapshot tag.
	// +optional
	Snapshot string `json:"snapshot,omitempty"`

	// Nodes is each node's part of the restore.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []NodeTableRestoreStatus `json:"nodes,omitempty"`

	// FailedNodes are the nodes to retry (spec.retry).
	// +optional
	FailedNodes []string `json:"failedNodes,omitempty"`

	// Retried is the spec.retry last acted on.
	// +optional
	Retried int32 `json:"retried,omitempty"`

	// StartTime is when the operator started the restore.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the restore reached COMPLETED, FAILED or CANCELLED.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// ObservedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready (every node restored) and Synced (the last reconciliation
	// succeeded; its message names the problem when it did not).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NodeTableRestoreStatus is one node's part of a CassandraRestore.
type NodeTableRestoreStatus struct {
	// Node is the name of the target node's pod.
	Node string `json:"node"`

	// SourceNode is the pod name of the backed-up node whose data this node restores.
	// +optional
	SourceNode string `json:"sourceNode,omitempty"`

	// SourceHostID is the host id of the backed-up node whose data this node restores.
	// +optional
	SourceHostID string `json:"sourceHostId,omitempty"`

	// State of this node's current phase.
	// +optional
	State TableRestoreState `json:"state,omitempty"`

	// Phase is the step whose operation OperationID is.
	// +optional
	Phase TableRestorePhase `json:"phase,omitempty"`

	// OperationKey identifies this node's operation of this phase and attempt to the agent,
	// recorded before it is submitted, so a restarted operator adopts it instead of
	// submitting a second one.
	// +optional
	OperationKey string `json:"operationKey,omitempty"`

	// OperationID is the id of the node's operation on its agent.
	// +optional
	OperationID string `json:"operationId,omitempty"`

	// Attempts is how many times the node's import has been submitted.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// BytesTotal is the size of the node's files to restore.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`

	// BytesDone is how much of it has been downloaded or found in place.
	// +optional
	BytesDone int64 `json:"bytesDone,omitempty"`

	// Files is the number of files to restore.
	// +optional
	Files int64 `json:"files,omitempty"`

	// TransferRate is the download rate and the time left.
	TransferRate `json:",inline"`

	// Message explains the node's state when it failed or what it waits for.
	// +optional
	Message string `json:"message,omitempty"`

	// CompletionTime is when the node's import ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// CassandraRestoreList is a list of CassandraRestores.
type CassandraRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the restores.
	Items []CassandraRestore `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &CassandraRestore{}, &CassandraRestoreList{})
		return nil
	})
}
