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
// +kubebuilder:resource:shortName=cbks,categories=cassandra
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`,description="Cron expression"
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.activeCount`,description="Runs not finished yet"
// +kubebuilder:printcolumn:name="Last Success",type=date,JSONPath=`.status.lastSuccessfulTime`,description="Start of the newest COMPLETED run"
// +kubebuilder:printcolumn:name="Next Run",type=string,JSONPath=`.status.nextScheduleTime`,description="When the next run is due"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 47",message="a schedule's name is at most 47 characters: its backups are named <schedule>-<UTC timestamp> and labelled with it"

// CassandraBackupSchedule creates a CassandraBackup from its template on a cron schedule
// and deletes the backups its retention policy no longer keeps.
type CassandraBackupSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says when to back up, what, and how many backups to keep.
	Spec CassandraBackupScheduleSpec `json:"spec"`
	// Status reports the runs.
	// +optional
	Status CassandraBackupScheduleStatus `json:"status,omitempty"`
}

// ConcurrencyPolicy says what a due run does while another run of the schedule is not finished.
// +kubebuilder:validation:Enum=Forbid;Allow
type ConcurrencyPolicy string

const (
	// ConcurrencyForbid makes a due run wait until the active run finishes (and within the
	// starting deadline, if any), then start once.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyAllow starts a due run whatever runs already.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
)

// CassandraBackupScheduleSpec says when to back up, what, and how many backups to keep.
type CassandraBackupScheduleSpec struct {
	// Schedule is a cron expression: five fields (minute hour day-of-month month
	// day-of-week), an optional leading seconds field, or a descriptor such as @daily.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Schedule string `json:"schedule"`

	// TimeZone is the IANA time zone the schedule is read in, such as Europe/Berlin;
	// UTC when empty. Daily, weekly and monthly retention count days in it too.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// Suspend stops new runs; runs already started go on and retention still applies.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ConcurrencyPolicy is Forbid (the default: a due run waits while another one is not
	// finished, and starts once when it has) or Allow.
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// StartingDeadline is how late a run may start after its time, as a duration such
	// as 1h: a run that could not start by then (operator down, or waiting for another
	// run) is skipped and counted. Unset means no deadline: the newest missed run starts
	// once, never a burst of them.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="startingDeadline must be a positive duration such as 1h"
	StartingDeadline *metav1.Duration `json:"startingDeadline,omitempty"`

	// Template is the backup each run creates, named and tagged <schedule>-<UTC time of
	// the run>, with deletionPolicy Delete so that retention removes what it expires.
	Template BackupTemplate `json:"template"`

	// Retention says which of the schedule's backups to keep; without it none is deleted.
	// +optional
	Retention *Retention `json:"retention,omitempty"`
}

// BackupTemplate is the part of a CassandraBackupSpec a schedule fills in for each run;
// the fields mean what they mean there.
// +kubebuilder:validation:XValidation:rule="has(self.storageLocation) != has(self.locationRef)",message="set exactly one of storageLocation and locationRef"
// +kubebuilder:validation:XValidation:rule="!has(self.locationRef) || !(has(self.secret) || has(self.insecure) || has(self.skipBucketVerification) || has(self.createMissingBucket))",message="secret, insecure, skipBucketVerification and createMissingBucket come from the CassandraBackupLocation when locationRef is set"
type BackupTemplate struct {
	// CDC is the name of the CassandraDataCenter to back up.
	// +kubebuilder:validation:MinLength=1
	CDC string `json:"cdc"`
	// Cluster is the Cassandra cluster name.
	// +kubebuilder:validation:MinLength=1
	Cluster string `json:"cluster"`
	// Datacenter is the Cassandra datacenter name.
	// +kubebuilder:validation:MinLength=1
	Datacenter string `json:"datacenter"`
	// StorageLocation is where the SSTables go, as in s3://cassandra-bucket; or set
	// LocationRef instead.
	// +optional
	// +kubebuilder:validation:MinLength=1
	StorageLocation string `json:"storageLocation,omitempty"`
	// LocationRef names a CassandraBackupLocation in the schedule's namespace that every
	// run's backup uses instead of storageLocation and secret.
	// +optional
	LocationRef *LocationReference `json:"locationRef,omitempty"`
	// Secret names the Secret with the storage credentials.
	// +optional
	Secret string `json:"secret,omitempty"`
	// Entities restricts the backup to keyspaces or tables, comma separated.
	// +optional
	Entities string `json:"entities,omitempty"`
	// CreateMissingBucket creates the bucket when it does not exist.
	// +optional
	CreateMissingBucket bool `json:"createMissingBucket,omitempty"`
	// SkipBucketVerification skips the check that the bucket exists.
	// +optional
	SkipBucketVerification bool `json:"skipBucketVerification,omitempty"`
	// Insecure talks to the storage over HTTP instead of HTTPS.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// MetadataDirective is S3 only: COPY or REPLACE.
	// +optional
	MetadataDirective MetadataDirective `json:"metadataDirective,omitempty"`
	// LifecycleExpiry declares the bucket's lifecycle expiry, as a duration such as 720h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('876000h')",message="lifecycleExpiry must be a positive duration of at most 876000h, such as 720h"
	LifecycleExpiry *metav1.Duration `json:"lifecycleExpiry,omitempty"`
	// SkipRefreshing never refreshes the objects a backup reuses.
	// +optional
	SkipRefreshing bool `json:"skipRefreshing,omitempty"`
	// ConcurrentConnections is how many files each node uploads at once.
	// +optional
	ConcurrentConnections int32 `json:"concurrentConnections,omitempty"`
	// Bandwidth caps each node's upload rate, in bytes per second.
	// +optional
	Bandwidth *resource.Quantity `json:"bandwidth,omitempty"`
	// Timeout bounds each node's part of a run.
	// +optional
	// +kubebuilder:validation:Type=string
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// Retention says which of a schedule's backups to keep, in the manner of restic's
// forget: a COMPLETED backup is kept when any keep rule keeps it and it is not older than
// MaxAge. FAILED and CANCELLED backups never count as kept by a rule; the newest
// COMPLETED backup is kept whatever the settings, and runs not finished are never touched.
type Retention struct {
	// KeepLast keeps the newest n COMPLETED backups.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepLast int32 `json:"keepLast,omitempty"`
	// KeepDaily keeps the newest COMPLETED backup of each of the newest n days that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepDaily int32 `json:"keepDaily,omitempty"`
	// KeepWeekly keeps the newest COMPLETED backup of each of the newest n ISO weeks that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepWeekly int32 `json:"keepWeekly,omitempty"`
	// KeepMonthly keeps the newest COMPLETED backup of each of the newest n months that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepMonthly int32 `json:"keepMonthly,omitempty"`
	// MaxAge deletes backups whose run is older than this (such as 2160h), whatever the
	// keep rules say, except the newest COMPLETED one. With no keep rule set, every
	// COMPLETED backup younger than MaxAge is kept.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="maxAge must be a positive duration such as 720h"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
	// KeepFailed keeps the newest n FAILED or CANCELLED backups, for their messages.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	KeepFailed int32 `json:"keepFailed,omitempty"`
}

// CassandraBackupScheduleStatus reports a schedule's runs.
type CassandraBackupScheduleStatus struct {
	// LastScheduleTime is the time of the newest run created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// LastSuccessfulTime is the time of the newest run that COMPLETED.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// NextScheduleTime is when the next run is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// LastSkippedTime is the time of the newest run skipped (past its starting deadline).
	// +optional
	LastSkippedTime *metav1.Time `json:"lastSkippedTime,omitempty"`
	// Active names the runs not finished yet.
	// +optional
	Active []string `json:"active,omitempty"`
	// ActiveCount is the number of runs not finished yet.
	// +optional
	ActiveCount int32 `json:"activeCount"`
	// Completed is the number of COMPLETED backups the schedule holds.
	// +optional
	Completed int32 `json:"completed,omitempty"`
	// Failed is the number of FAILED or CANCELLED backups the schedule holds.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Skipped counts the runs skipped since the schedule was created.
	// +optional
	Skipped int64 `json:"skipped,omitempty"`
	// Expired counts the backups retention has deleted.
	// +optional
	Expired int64 `json:"expired,omitempty"`
	// ObservedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are Ready (the schedule is valid and will run; reason Suspended when
	// suspended) and Synced (the last reconciliation succeeded).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// CassandraBackupScheduleList is a list of CassandraBackupSchedules.
type CassandraBackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the schedules.
	Items []CassandraBackupSchedule `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &CassandraBackupSchedule{}, &CassandraBackupScheduleList{})
		return nil
	})
}
