package location

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Identity is a remote backup as sync sees it: one datacenter of one topology file.
type Identity struct {
	// Location is the CassandraBackupLocation's name.
	Location string
	// Cluster, Datacenter and Tag are the backup's cluster, datacenter and snapshot tag.
	Cluster, Datacenter, Tag string
	// EpochMillis is the topology's time.
	EpochMillis int64
}

// maxName keeps a synced backup's name a valid label value too.
const maxName = 63

// BackupName returns the name of the CassandraBackup that sync creates for the remote
// backup: <location>-<cluster>-<datacenter>-<tag>, lowercased, other characters turned
// into '-', cut to fit 63 characters with a hash of the whole identity: the same
// identity always gets the same name, and two identities never share one.
func BackupName(id Identity) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{id.Location, id.Cluster, id.Datacenter, id.Tag,
		strconv.FormatInt(id.EpochMillis, 10)}, "\x00")))
	suffix := hex.EncodeToString(sum[:])[:10]
	base := dnsLabel(id.Location + "-" + id.Cluster + "-" + id.Datacenter + "-" + id.Tag)
	if len(base) > maxName-len(suffix)-1 {
		base = strings.TrimRight(base[:maxName-len(suffix)-1], "-")
	}
	if base == "" {
		return "b-" + suffix
	}
	return base + "-" + suffix
}

// dnsLabel lowercases s and turns every run of characters outside [a-z0-9] into one '-',
// without leading or trailing '-'.
func dnsLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
