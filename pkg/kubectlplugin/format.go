package kubectlplugin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// HumanBytes prints a size with binary units and one decimal: 2.1 MiB, 512 B.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
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
