package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cbk,categories=cassandra
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.state`,description="State of the whole backup"
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`,description="Bytes uploaded over bytes to upload, all nodes together"
// +kubebuilder:printcolumn:name="Size",type=string,JSONPath=`.status.size`,description="Bytes uploaded / bytes to upload, all nodes together"
// +kubebuilder:printcolumn:name="Rate",type=string,JSONPath=`.status.rate`,description="Upload rate over the last 30 s, all nodes together"
// +kubebuilder:printcolumn:name="ETA",type=string,JSONPath=`.status.eta`,description="Time left until the slowest node is done"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CassandraBackup is a backup of one Cassandra datacenter: every node snapshots its
// SSTables and uploads them to the storage location under the snapshot tag. The backup's
// name is what a restore refers to.
type CassandraBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to back up and where to.
	Spec CassandraBackupSpec `json:"spec"`
	// Status reports the backup's progress, per node and as a whole.
	// +optional
	Status CassandraBackupStatus `json:"status,omitempty"`
}

// MetadataDirective tells S3 whether a refreshed object keeps or replaces its metadata.
// +kubebuilder:validation:Enum=COPY;REPLACE
type MetadataDirective string

const (
	// MetadataDirectiveCopy keeps the object's metadata.
	MetadataDirectiveCopy MetadataDirective = "COPY"
	// MetadataDirectiveReplace replaces the object's metadata with the request's.
	MetadataDirectiveReplace MetadataDirective = "REPLACE"
)

// DeletionPolicy says what happens to the remote backup when its CassandraBackup is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain leaves the remote backup in the bucket.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete removes the backup's manifests, its topology and every data
	// object that no other backup references.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// CassandraBackupSpec says what to back up and where to.
// +kubebuilder:validation:XValidation:rule="self.snapshotTag == oldSelf.snapshotTag",message="snapshotTag is immutable: create a new CassandraBackup for a new snapshot"
// +kubebuilder:validation:XValidation:rule="has(self.storageLocation) != has(self.locationRef)",message="set exactly one of storageLocation and locationRef"
// +kubebuilder:validation:XValidation:rule="has(self.storageLocation) == has(oldSelf.storageLocation) && (!has(self.storageLocation) || self.storageLocation == oldSelf.storageLocation)",message="storageLocation is immutable: create a new CassandraBackup for another location"
// +kubebuilder:validation:XValidation:rule="has(self.locationRef) == has(oldSelf.locationRef) && (!has(self.locationRef) || self.locationRef.name == oldSelf.locationRef.name)",message="locationRef is immutable: create a new CassandraBackup for another location"
// +kubebuilder:validation:XValidation:rule="!has(self.locationRef) || (!has(self.secret) && !(has(self.insecure) && self.insecure) && !(has(self.skipBucketVerification) && self.skipBucketVerification) && !(has(self.createMissingBucket) && self.createMissingBucket))",message="with locationRef, secret, insecure, skipBucketVerification and createMissingBucket come from the CassandraBackupLocation: remove them from the backup"
// +kubebuilder:validation:XValidation:rule="self.cluster == oldSelf.cluster",message="cluster is immutable"
// +kubebuilder:validation:XValidation:rule="self.datacenter == oldSelf.datacenter",message="datacenter is immutable"
// +kubebuilder:validation:XValidation:rule="self.cdc == oldSelf.cdc",message="cdc is immutable"
type CassandraBackupSpec struct {
	// CDC is the name of the CassandraDataCenter to back up, in the backup's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	CDC string `json:"cdc"`

	// Cluster is the Cassandra cluster name; it is part of every object key in the bucket.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="cluster must not contain '/'"
	Cluster string `json:"cluster"`

	// Datacenter is the Cassandra datacenter name; it is part of every object key in the bucket.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="datacenter must not contain '/'"
	Datacenter string `json:"datacenter"`

	// StorageLocation is where the SSTables go: the scheme selects the storage
	// (s3://, azure://, gcp:// or file://) and what follows is the bucket, for example
	// s3://cassandra-bucket or file:///var/backups/cassandra-bucket. Set it or locationRef.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^(s3|azure|gcp|file)://')",message="storageLocation must start with s3://, azure://, gcp:// or file://"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^(s3|azure|gcp)://') || self.matches('^(s3|azure|gcp)://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^/]+)*/?$')",message="storageLocation must name a bucket after the scheme: 3 to 63 lowercase letters, digits, '.', '-' or '_', as in s3://cassandra-bucket"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('file://') || self.matches('^file:///[^/]+')",message="a file:// storageLocation must be an absolute path ending in the bucket directory, as in file:///var/backups/cassandra-bucket"
	StorageLocation string `json:"storageLocation,omitempty"`

	// LocationRef names a CassandraBackupLocation in the backup's namespace whose location
	// fields the backup uses, instead of its own storageLocation and secret. The backup
	// records the location in status.location when it starts: a later edit of the
	// CassandraBackupLocation does not change it.
	// +optional
	LocationRef *LocationReference `json:"locationRef,omitempty"`

	// SnapshotTag names the snapshot every node takes. A tag can be backed up once per
	// cluster, datacenter and location: include a date and time to keep many backups.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="snapshotTag must not contain '/'"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="snapshotTag must not be '.' or '..'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\s')",message="snapshotTag must not contain white space"
	SnapshotTag string `json:"snapshotTag"`

	// Secret is the name of the Secret, in the backup's namespace, that holds the storage
	// credentials (keys awsaccesskeyid, awssecretaccesskey, awsregion, awsendpoint,
	// azurestorageaccount, azurestoragekey, gcp). It is read at the moment of each use, so
	// rotated credentials take effect on the next operation. Without it the agents use
	// their environment (for S3, the SDK's default credential chain).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Secret string `json:"secret,omitempty"`

	// GlobalRequest is accepted for compatibility with Instaclustr's operator and ignored:
	// this operator always coordinates every node of the datacenter itself, one operation
	// per node, and tracks each of them in status.
	// +optional
	GlobalRequest bool `json:"globalRequest,omitempty"`

	// JustCreate makes the backup known without taking it: the operator looks for a
	// completed remote backup with this cluster, datacenter and snapshot tag at the
	// storage location and, when found, marks this CassandraBackup COMPLETED so a restore
	// (for example in another Kubernetes cluster) can reference it.
	// +optional
	JustCreate bool `json:"justCreate,omitempty"`

	// Entities restricts the backup to keyspaces or tables, comma separated, as in
	// "system_schema,ks1,ks2.table1". Empty means every keyspace. Include system_schema
	// so a restored cluster knows the schema.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Entities string `json:"entities,omitempty"`

	// CreateMissingBucket creates the bucket when it does not exist.
	// +optional
	CreateMissingBucket bool `json:"createMissingBucket,omitempty"`

	// SkipBucketVerification skips the check that the bucket exists; if it does not,
	// the uploads fail.
	// +optional
	SkipBucketVerification bool `json:"skipBucketVerification,omitempty"`

	// Insecure talks to the storage over HTTP instead of HTTPS (S3 and Azure).
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// MetadataDirective is S3 only: whether an object refreshed in place copies its
	// metadata from the source (COPY) or replaces it (REPLACE).
	// +optional
	// +kubebuilder:default=COPY
	MetadataDirective MetadataDirective `json:"metadataDirective,omitempty"`

	// LifecycleExpiry declares that the bucket's lifecycle rules expire objects this long
	// after they were last written, as a duration such as 720h. Backups share unchanged
	// SSTables, so each node then refreshes (re-writes in place by a server-side copy) a
	// reused object when it was last written or refreshed more than half of this ago, as
	// recorded in the node's manifests. Unset means the bucket has no such rule: nothing
	// is refreshed (retention is the operator's: schedules and deletionPolicy).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('876000h')",message="lifecycleExpiry must be a positive duration of at most 876000h, such as 720h"
	LifecycleExpiry *metav1.Duration `json:"lifecycleExpiry,omitempty"`

	// SkipRefreshing never refreshes the objects a backup reuses, even under lifecycleExpiry.
	// +optional
	SkipRefreshing bool `json:"skipRefreshing,omitempty"`

	// ConcurrentConnections is how many files each node uploads at once.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	ConcurrentConnections int32 `json:"concurrentConnections,omitempty"`

	// Bandwidth caps each node's upload rate, in bytes per second, as a quantity such
	// as 100Mi. Unset means no cap.
	// +optional
	Bandwidth *resource.Quantity `json:"bandwidth,omitempty"`

	// Timeout bounds each node's part of the backup, as a duration such as 5h. A node
	// whose agent has not finished, or cannot be reached, by then is FAILED.
	// Unset means 5h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeout must be a positive duration such as 5h"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// DeletionPolicy says what deleting this CassandraBackup does to the remote backup:
	// Retain (the default) leaves the bucket alone; Delete removes the backup's manifests,
	// its topology and every data object no other backup references.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// DeleteImported lets deletionPolicy Delete remove the remote backup of a justCreate
	// import, which another CassandraBackup (often in another Kubernetes cluster) took
	// and may still need. Without it, deleting an import retains the remote backup and
	// says so in a Warning event.
	// +optional
	DeleteImported bool `json:"deleteImported,omitempty"`
	// Cancel stops a backup that has not finished: every node's operation is cancelled
	// (each agent clears its snapshot) and the backup ends CANCELLED, with what was
	// uploaded left in status and in the bucket. A finished backup is not affected.
	// +optional
	Cancel bool `json:"cancel,omitempty"`
}

// BackupState is the state of a backup, or of one node's part of it.
// +kubebuilder:validation:Enum=PENDING;RUNNING;COMPLETED;FAILED;CANCELLED
type BackupState string

const (
	// BackupPending has not started uploading yet.
	BackupPending BackupState = "PENDING"
	// BackupRunning is snapshotting or uploading.
	BackupRunning BackupState = "RUNNING"
	// BackupCompleted has every file uploaded and its manifest (or topology) written.
	BackupCompleted BackupState = "COMPLETED"
	// BackupFailed stopped on an error; the message says which.
	BackupFailed BackupState = "FAILED"
	// BackupCancelled was cancelled before it completed.
	BackupCancelled BackupState = "CANCELLED"
)

// CassandraBackupStatus reports the backup's progress, per node and as a whole.
type CassandraBackupStatus struct {
	// State of the whole backup.
	// +optional
	State BackupState `json:"state,omitempty"`

	// Progress is the share of bytes uploaded, all nodes together, as a percentage
	// such as "83%".
	// +optional
	Progress string `json:"progress,omitempty"`

	// ProgressSummary is the size, rate and ETA of the whole backup, preformatted.
	ProgressSummary `json:",inline"`

	// Snapshot is the snapshot name every node takes, chosen once before any agent is
	// contacted.
	// +optional
	Snapshot string `json:"snapshot,omitempty"`

	// Nodes is the state of each node's part of the backup.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []NodeBackupStatus `json:"nodes,omitempty"`

	// StartTime is when the operator started the backup.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the backup reached COMPLETED, FAILED or CANCELLED.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// ObservedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready (the remote backup is complete and usable) and Synced (the
	// last reconciliation succeeded; its message names the problem when it did not).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Location is the location of a backup with spec.locationRef, read from the
	// CassandraBackupLocation until the backup starts and fixed from then on.
	// +optional
	Location *ResolvedLocation `json:"location,omitempty"`
}

// NodeBackupStatus is one node's part of a backup.
type NodeBackupStatus struct {
	// Node is the name of the node's pod.
	Node string `json:"node"`

	// Rack is the node's Cassandra rack.
	// +optional
	Rack string `json:"rack,omitempty"`

	// HostID is the node's Cassandra host id; its files live under it in the bucket.
	// +optional
	HostID string `json:"hostId,omitempty"`

	// State of this node's upload.
	// +optional
	State BackupState `json:"state,omitempty"`

	// Progress is the share of this node's bytes uploaded, as a percentage such as "66%".
	// +optional
	Progress string `json:"progress,omitempty"`

	// BytesTotal is the size of the node's snapshot.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`

	// BytesUploaded is how much of it has been uploaded or found already in the bucket.
	// +optional
	BytesUploaded int64 `json:"bytesUploaded,omitempty"`

	// FilesTotal is the number of files in the node's snapshot.
	// +optional
	FilesTotal int64 `json:"filesTotal,omitempty"`

	// FilesSkipped is how many of them were already in the bucket and not uploaded again.
	// +optional
	FilesSkipped int64 `json:"filesSkipped,omitempty"`

	// TransferRate is the node's upload rate over the last 30 s and its ETA.
	TransferRate `json:",inline"`

	// OperationID is the id of the node's backup operation on its agent.
	// +optional
	OperationID string `json:"operationId,omitempty"`

	// Attempts is how many times the node's backup operation has been submitted.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// Message explains the node's state when it failed, or what the operator is waiting for.
	// +optional
	Message string `json:"message,omitempty"`

	// StartTime is when the node's operation was first submitted.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the node's operation ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// CassandraBackupList is a list of CassandraBackups.
type CassandraBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the backups.
	Items []CassandraBackup `json:"items"`
}
