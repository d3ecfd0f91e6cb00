package v1alpha1

// ReplicationChange is one keyspace whose replication a datacenter rename rewrote.
type ReplicationChange struct {
	// Keyspace is the keyspace's name.
	// +kubebuilder:validation:MaxLength=222
	Keyspace string `json:"keyspace"`

	// From is the replication before, datacenter:factor pairs sorted by datacenter
	// ("dc1:3,dc9:2").
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	From string `json:"from,omitempty"`

	// To is the replication after, in the same form.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	To string `json:"to,omitempty"`
}
