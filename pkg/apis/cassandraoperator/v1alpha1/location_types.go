package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cbl,categories=cassandra
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.spec.storageLocation`,description="The bucket"
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`,description="Reachable and writable at the last check"
// +kubebuilder:printcolumn:name="Backups",type=integer,JSONPath=`.status.backups`,description="CassandraBackups that use the location"
// +kubebuilder:printcolumn:name="Last Check",type=date,JSONPath=`.status.lastCheckTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CassandraBackupLocation is a storage location and the Secret that reaches it, which
// CassandraBackups reference by spec.locationRef instead of repeating the location fields.
// The operator checks on a period, and whenever the Secret changes, that it is reachable and
// writable, and with spec.sync it imports the bucket's backups as CassandraBackups.
type CassandraBackupLocation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the location.
	Spec CassandraBackupLocationSpec `json:"spec"`
	// Status reports whether the location is available and what it holds.
	// +optional
	Status CassandraBackupLocationStatus `json:"status,omitempty"`
}

// BackupStorage is where backups go and how to reach them: the guide's location fields,
// which mean what they mean in a CassandraBackupSpec.
type BackupStorage struct {
	// StorageLocation is the bucket: the scheme selects the storage (s3://, azure://,
	// gcp:// or file://), as in s3://cassandra-bucket.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^(s3|azure|gcp|file)://')",message="storageLocation must start with s3://, azure://, gcp:// or file://"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^(s3|azure|gcp)://') || self.matches('^(s3|azure|gcp)://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^/]+)*/?$')",message="storageLocation must name a bucket after the scheme: 3 to 63 lowercase letters, digits, '.', '-' or '_', as in s3://cassandra-bucket"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('file://') || self.matches('^file:///[^/]+')",message="a file:// storageLocation must be an absolute path ending in the bucket directory, as in file:///var/backups/cassandra-bucket"
	StorageLocation string `json:"storageLocation"`

	// Secret names the Secret, in the same namespace, with the storage credentials (the
	// guide's keys); read at each use. Without it the agents use their environment.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Secret string `json:"secret,omitempty"`

	// Insecure talks to the storage over HTTP instead of HTTPS (S3 and Azure).
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// SkipBucketVerification skips the check that the bucket exists.
	// +optional
	SkipBucketVerification bool `json:"skipBucketVerification,omitempty"`

	// CreateMissingBucket creates the bucket when it does not exist.
	// +optional
	CreateMissingBucket bool `json:"createMissingBucket,omitempty"`

	// MetadataDirective is S3 only: COPY or REPLACE the metadata of an object refreshed in place.
	// +optional
	MetadataDirective MetadataDirective `json:"metadataDirective,omitempty"`

	// LifecycleExpiry declares that the bucket's lifecycle rules expire objects this long
	// after they were last written, as a duration such as 720h: each node then refreshes
	// a reused object last written or refreshed more than half of this ago. Unset: nothing
	// is refreshed (see CassandraBackup's lifecycleExpiry).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('876000h')",message="lifecycleExpiry must be a positive duration of at most 876000h, such as 720h"
	LifecycleExpiry *metav1.Duration `json:"lifecycleExpiry,omitempty"`

	// SkipRefreshing never refreshes the objects a backup reuses, even under lifecycleExpiry.
	// +optional
	SkipRefreshing bool `json:"skipRefreshing,omitempty"`
}

// CassandraBackupLocationSpec is a location: the guide's location fields, and whether to
// import the bucket's backups.
// +kubebuilder:validation:XValidation:rule="self.storageLocation == oldSelf.storageLocation",message="storageLocation is immutable: create a new CassandraBackupLocation for another bucket"
type CassandraBackupLocationSpec struct {
	BackupStorage `json:",inline"`

	// Sync imports the bucket's backups: every committed backup (a topology file) that no
	// CassandraBackup in the namespace stands for gets an observe-only (justCreate)
	// CassandraBackup that references this location. Sync never deletes anything, and a
	// synced CassandraBackup that was deleted is not created again.
	// +optional
	Sync bool `json:"sync,omitempty"`
}

// LocationReference names a CassandraBackupLocation in the same namespace.
type LocationReference struct {
	// Name of the CassandraBackupLocation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ResolvedLocation is the location a backup uses, as it was when the backup started.
type ResolvedLocation struct {
	// Name is the CassandraBackupLocation it was read from.
	// +optional
	Name string `json:"name,omitempty"`

	BackupStorage `json:",inline"`
}

// Condition types and reasons of a CassandraBackupLocation.
const (
	// LocationAvailable is True when the last check put, read and deleted a probe object.
	LocationAvailable = "Available"
	// LocationReasonAvailable: the check succeeded.
	LocationReasonAvailable = "Available"
	// LocationReasonBadCredentials: the storage refused the credentials, or the Secret
	// is missing or breaks the guide's rules.
	LocationReasonBadCredentials = "BadCredentials"
	// LocationReasonBucketMissing: the bucket does not exist.
	LocationReasonBucketMissing = "BucketMissing"
	// LocationReasonTLS: the TLS handshake or certificate check failed.
	LocationReasonTLS = "TLS"
	// LocationReasonTimeout: the storage did not answer in time.
	LocationReasonTimeout = "Timeout"
	// LocationReasonUnreachable: any other failure to reach or write the storage.
	LocationReasonUnreachable = "Unreachable"
)

// CassandraBackupLocationStatus reports whether a location is available and what it holds.
type CassandraBackupLocationStatus struct {
	// LastCheckTime is when the location was last checked.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`

	// Backups is how many CassandraBackups in the namespace use the location.
	// +optional
	Backups int32 `json:"backups"`

	// RemoteBackups is how many committed backups (topology files) the bucket holds, as
	// of the last sync; set only with spec.sync.
	// +optional
	RemoteBackups *int32 `json:"remoteBackups,omitempty"`

	// Synced names the CassandraBackups sync created, so that one a user deleted is not
	// created again. It only grows.
	// +optional
	// +listType=set
	Synced []string `json:"synced,omitempty"`

	// ObservedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Available (reachable and writable; the reason says why not) and Synced
	// (the last sync from the bucket succeeded).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// CassandraBackupLocationList is a list of CassandraBackupLocations.
type CassandraBackupLocationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the locations.
	Items []CassandraBackupLocation `json:"items"`
}

// Storage returns the location the backup uses: status.location once the backup resolved
// its spec.locationRef, otherwise the spec's own location fields.
func (b *CassandraBackup) Storage() BackupStorage {
	if b.Status.Location != nil {
		return b.Status.Location.BackupStorage
	}
	s := &b.Spec
	return BackupStorage{StorageLocation: s.StorageLocation, Secret: s.Secret, Insecure: s.Insecure,
		SkipBucketVerification: s.SkipBucketVerification, CreateMissingBucket: s.CreateMissingBucket,
		MetadataDirective: s.MetadataDirective, LifecycleExpiry: s.LifecycleExpiry, SkipRefreshing: s.SkipRefreshing}
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &CassandraBackupLocation{}, &CassandraBackupLocationList{})
		return nil
	})
}
