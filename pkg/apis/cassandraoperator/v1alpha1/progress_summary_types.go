package v1alpha1

// ProgressSummary is the progress of a whole backup or restore, all nodes together, as
// preformatted strings for printer columns and people (pkg/progress formats them): a
// date column would print "<invalid>" for an ETA in the future.
type ProgressSummary struct {
	// Size is the bytes done over the bytes to do, in binary units, such as
	// "2.1 MiB / 3.0 MiB".
	// +optional
	Size string `json:"size,omitempty"`

	// Rate is the transfer rate over the last 30 s, all nodes together, such as
	// "1.5 MiB/s"; empty when nothing is moving.
	// +optional
	Rate string `json:"rate,omitempty"`

	// ETA is the time left until the slowest node is done, at the nodes' current rates,
	// such as "3m20s"; empty when unknown or done.
	// +optional
	ETA string `json:"eta,omitempty"`
}

// NodeRestoreProgress is a pod's restore download in bytes and files, read from its
// restore init container while it runs.
type NodeRestoreProgress struct {
	// BytesTotal is the size of the node's files to restore.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`

	// BytesDone is how much of it was downloaded or found already in place.
	// +optional
	BytesDone int64 `json:"bytesDone,omitempty"`

	// FilesTotal is the number of files to restore.
	// +optional
	FilesTotal int64 `json:"filesTotal,omitempty"`

	// FilesDone is how many of them were downloaded or found already in place.
	// +optional
	FilesDone int64 `json:"filesDone,omitempty"`
}
