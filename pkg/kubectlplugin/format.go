package kubectlplugin

import (
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
)

// HumanBytes prints a size with binary units and one decimal: 2.1 MiB, 512 B (the one
// progress model's format, progress.Bytes).
func HumanBytes(n int64) string { return progress.Bytes(n) }

// rateString prints a node's rate from its status, "1.5 MiB/s", or "" when none.
func rateString(bytesPerSecond int64) string {
	return progress.Report{Rate: float64(bytesPerSecond)}.RateString()
}

// Percent is done over total as a whole percentage; "-" when the total is unknown.
func Percent(done, total int64) string {
	if total <= 0 {
		return "-"
	}
	return strconv.FormatInt(done*100/total, 10) + "%"
}

// Bar draws a progress bar of width cells for done over total, for terminals.
func Bar(done, total int64, width int) string {
	filled := 0
	if total > 0 {
		filled = int(min(done, total) * int64(width) / total)
	}
	return "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
}

// Age prints how long ago t was the way kubectl does (5m, 3h, 2d); "<unknown>" for zero.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// orDash is s, or "-" when it is empty, so table columns never collapse.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
