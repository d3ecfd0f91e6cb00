package cassandra

import (
	"fmt"
	"regexp"
	"strings"
)

// Digest components, in the order they are preferred.
var digestComponents = []string{"Digest.crc32", "Digest.adler32", "Digest.sha1"}

var (
	versionRE = regexp.MustCompile(`^[a-z]{2}$`)
	// intGenRE is a sequence-number generation (Cassandra 3.x and 4.x, and 5.x by default).
	intGenRE = regexp.MustCompile(`^[0-9]+$`)
	// uuidGenRE is a time-UUID generation (uuid_sstable_identifiers_enabled, Cassandra 4.1+):
	// base36 days (4), seconds (4), then decimicros (5) and the UUID's low 64 bits (13).
	uuidGenRE   = regexp.MustCompile(`^[0-9a-z]{4}_[0-9a-z]{4}_[0-9a-z]{18}$`)
	formatRE    = regexp.MustCompile(`^(big|bti)$`)
	componentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+.]*$`)
)

// Descriptor identifies one file of an SSTable, parsed from its name
// (<version>-<generation>-<format>-<component>, e.g. nb-3-big-Data.db).
type Descriptor struct {
	// Version is the two-letter SSTable version (mc, md, nb, oa, da, …).
	Version string
	// Generation is the SSTable's generation: a number, or a time-UUID in Cassandra's base36 form.
	Generation string
	// Format is big or bti.
	Format string
	// Component is the file's component, e.g. Data.db or Digest.crc32.
	Component string
}

// ParseDescriptor parses an SSTable file name of Cassandra 3.0 or later.
func ParseDescriptor(name string) (Descriptor, error) {
	parts := strings.SplitN(name, "-", 4)
	if len(parts) != 4 {
		return Descriptor{}, fmt.Errorf("sstable file %q: want <version>-<generation>-<format>-<component>", name)
	}
	d := Descriptor{Version: parts[0], Generation: parts[1], Format: parts[2], Component: parts[3]}
	switch {
	case !versionRE.MatchString(d.Version):
		return Descriptor{}, fmt.Errorf("sstable file %q: bad version %q", name, d.Version)
	case !intGenRE.MatchString(d.Generation) && !uuidGenRE.MatchString(d.Generation):
		return Descriptor{}, fmt.Errorf("sstable file %q: bad generation %q", name, d.Generation)
	case !formatRE.MatchString(d.Format):
		return Descriptor{}, fmt.Errorf("sstable file %q: unknown format %q", name, d.Format)
	case !componentRE.MatchString(d.Component):
		return Descriptor{}, fmt.Errorf("sstable file %q: bad component %q", name, d.Component)
	}
	return d, nil
}

// SSTable returns the name shared by all components of the SSTable, e.g. nb-3-big.
func (d Descriptor) SSTable() string {
	return d.Version + "-" + d.Generation + "-" + d.Format
}

// FileName returns the file name of the descriptor.
func (d Descriptor) FileName() string {
	return d.SSTable() + "-" + d.Component
}

// UUIDGeneration reports whether the generation is a time-UUID rather than a number.
func (d Descriptor) UUIDGeneration() bool {
	return uuidGenRE.MatchString(d.Generation)
}

// IsDigest reports whether the component is a whole-file digest of Data.db.
func (d Descriptor) IsDigest() bool {
	for _, c := range digestComponents {
		if d.Component == c {
			return true
		}
	}
	return false
}
