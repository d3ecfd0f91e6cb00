package v1alpha1

// Condition types used by both kinds.
const (
	// ConditionReady is True when the remote backup (or the restore plan) is usable.
	ConditionReady = "Ready"
	// ConditionSynced is True when the last reconciliation succeeded.
	ConditionSynced = "Synced"
)
