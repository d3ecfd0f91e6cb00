package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cbv,categories=cassandra
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Verified",type=integer,JSONPath=`.status.objectsVerified`,description="Objects downloaded and checked"
// +kubebuilder:printcolumn:name="Failures",type=integer,JSONPath=`.status.failureCount`,description="Objects or checks that failed"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 47",message="a verification's name is at most 47 characters: its pods are named <verification>-<UTC timestamp>"

// CassandraBackupVerification is a restore drill: it proves that a COMPLETED
// CassandraBackup restores, without a cluster, by downloading its objects in a pod of the
// agent image and checking them against the manifests (SHA-256, SSTable digests, chunk
// CRCs of CRC.db or compressed chunks, TOC component sets) and the topology and schema
// against each other; once, or on a cron schedule.
type CassandraBackupVerification struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the backup and how much of it to check.
	Spec CassandraBackupVerificationSpec `json:"spec"`
	// Status reports the newest run.
	// +optional
	Status CassandraBackupVerificationStatus `json:"status,omitempty"`
}

// CassandraBackupVerificationSpec names the backup to verify, the sample and the schedule.
type CassandraBackupVerificationSpec struct {
	// BackupName is the CassandraBackup, in this namespace, to verify; it must be COMPLETED.
	// +kubebuilder:validation:MinLength=1
	BackupName string `json:"backupName"`

	// Sample is the percentage of each node's objects to download and check, such as
	// 10%; the choice is deterministic (a hash of each object key), so two runs check the
	// same objects. Every object when empty. Topology, manifests, schemas and TOC
	// component sets are always checked whole.
	// +optional
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9](\.[0-9]{1,3})?)%$`
	Sample string `json:"sample,omitempty"`

	// Schedule, when set, repeats the drill on a cron schedule (five fields, an optional
	// leading seconds field, or a descriptor such as @weekly); once when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Schedule string `json:"schedule,omitempty"`

	// TimeZone is the IANA time zone the schedule is read in; UTC when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// HistoryLimit is how many finished runs status.history keeps (scheduled drills).
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	HistoryLimit *int32 `json:"historyLimit,omitempty"`

	// Secret names the Secret with the storage credentials; the backup's when empty.
	// +optional
	Secret string `json:"secret,omitempty"`

	// ServiceAccountName runs the drill's pod, which reads the Secret through the API;
	// the operator's --verify-service-account (the agents' account) when empty.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Image overrides the agent image of the drill's pod.
	// +optional
	Image string `json:"image,omitempty"`

	// Resources of the drill's container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// VerificationState is where a verification run is.
// +kubebuilder:validation:Enum=PENDING;RUNNING;COMPLETED;FAILED
type VerificationState string

const (
	// VerificationPending: no run has started yet (a scheduled drill before its first run).
	VerificationPending VerificationState = "PENDING"
	// VerificationRunning: the drill's pod runs.
	VerificationRunning VerificationState = "RUNNING"
	// VerificationCompleted: every object checked was intact and every check passed.
	VerificationCompleted VerificationState = "COMPLETED"
	// VerificationFailed: an object was corrupt or missing, a check failed, or the pod failed.
	VerificationFailed VerificationState = "FAILED"
)

// CassandraBackupVerificationStatus reports the newest run of a drill.
type CassandraBackupVerificationStatus struct {
	// State of the newest run.
	// +optional
	State VerificationState `json:"state,omitempty"`
	// Message says why a run failed, or what it found.
	// +optional
	Message string `json:"message,omitempty"`
	// PodName is the pod of the newest run.
	// +optional
	PodName string `json:"podName,omitempty"`
	// StartTime is when the newest run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the newest run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// LastRun is the time slot of the newest run of a scheduled drill.
	// +optional
	LastRun *metav1.Time `json:"lastRun,omitempty"`
	// NextRun is when a scheduled drill runs next.
	// +optional
	NextRun *metav1.Time `json:"nextRun,omitempty"`
	// ObjectsVerified is the number of objects downloaded and checked, over all nodes.
	// +optional
	ObjectsVerified int64 `json:"objectsVerified,omitempty"`
	// BytesVerified is the number of bytes downloaded and checked, over all nodes.
	// +optional
	BytesVerified int64 `json:"bytesVerified,omitempty"`
	// FailureCount is the number of failures, over all nodes.
	// +optional
	FailureCount int64 `json:"failureCount,omitempty"`
	// Nodes are the per-node results of the newest run.
	// +optional
	// +listType=atomic
	Nodes []NodeVerification `json:"nodes,omitempty"`
	// History lists the newest finished runs of a scheduled drill, newest first.
	// +optional
	// +listType=atomic
	History []VerificationRun `json:"history,omitempty"`
	// ObservedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are Ready (the newest run COMPLETED) and Synced (the last
	// reconciliation succeeded).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NodeVerification is one backed-up node's result.
type NodeVerification struct {
	// Node is the node's host name in the backup's topology.
	Node string `json:"node"`
	// HostID is the node's Cassandra host id.
	HostID string `json:"hostId,omitempty"`
	// ObjectsTotal is the number of objects the node's manifest lists.
	// +optional
	ObjectsTotal int64 `json:"objectsTotal,omitempty"`
	// ObjectsVerified is the number of objects downloaded and checked (the sample).
	// +optional
	ObjectsVerified int64 `json:"objectsVerified,omitempty"`
	// BytesVerified is the number of bytes downloaded and checked.
	// +optional
	BytesVerified int64 `json:"bytesVerified,omitempty"`
	// FailureCount is the number of failures; Failures lists the first ones.
	// +optional
	FailureCount int64 `json:"failureCount,omitempty"`
	// Failures are the first failures, each with the object key (relative to the bucket)
	// or the check that failed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Failures []VerificationFailure `json:"failures,omitempty"`
}

// VerificationFailure is one failed object or check.
type VerificationFailure struct {
	// Key is the object key in the bucket, or the manifest or topology key of a check.
	Key string `json:"key"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// VerificationRun is a finished run of a scheduled drill.
type VerificationRun struct {
	// StartTime is when the run started.
	StartTime metav1.Time `json:"startTime"`
	// CompletionTime is when it finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// State is COMPLETED or FAILED.
	State VerificationState `json:"state"`
	// ObjectsVerified is the number of objects checked.
	// +optional
	ObjectsVerified int64 `json:"objectsVerified,omitempty"`
	// FailureCount is the number of failures.
	// +optional
	FailureCount int64 `json:"failureCount,omitempty"`
	// Message is the run's message.
	// +optional
	Message string `json:"message,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// CassandraBackupVerificationList is a list of CassandraBackupVerifications.
type CassandraBackupVerificationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the verifications.
	Items []CassandraBackupVerification `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &CassandraBackupVerification{}, &CassandraBackupVerificationList{})
		return nil
	})
}
