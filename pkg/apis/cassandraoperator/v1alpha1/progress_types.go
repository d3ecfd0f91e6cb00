package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TransferRate is how fast a node's transfer is going and when it should end, in the one
// progress model of backups and restores (pkg/progress): the rate over the last 30 s and
// the time left at that rate. Node statuses embed it next to their byte counts; the
// operator writes it at most every 5 s.
type TransferRate struct {
	// BytesPerSecond is the transfer rate over the last 30 s.
	// +optional
	BytesPerSecond int64 `json:"bytesPerSecond,omitempty"`

	// ETA is the time left at that rate, preformatted ("3m20s"), empty when unknown or done.
	// +optional
	ETA string `json:"eta,omitempty"`

	// ProgressTime is when the byte counts and the rate were last measured.
	// +optional
	ProgressTime *metav1.Time `json:"progressTime,omitempty"`
}
