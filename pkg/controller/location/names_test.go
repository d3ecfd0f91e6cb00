package location

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestBackupName(t *testing.T) {
	id := Identity{Location: "primary", Cluster: "prod", Datacenter: "dc1", Tag: "nightly-1", EpochMillis: 1764464523000}
	if got, again := BackupName(id), BackupName(id); got != again || !strings.HasPrefix(got, "primary-prod-dc1-nightly-1-") {
		t.Errorf("BackupName = %q, then %q", got, again)
	}
	long := id
	long.Tag = strings.Repeat("Weekly_2026.48-", 20)
	other := id
	other.EpochMillis++
	seen := map[string]Identity{}
	for _, x := range []Identity{id, long, other, {Location: "l", Cluster: "Ü", Datacenter: "-", Tag: "."}, {Location: "a-b", Cluster: "c"}, {Location: "a", Cluster: "b-c"}} {
		name := BackupName(x)
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("%+v: %q is not a valid name: %v", x, name, errs)
		}
		if !regexp.MustCompile(`-[0-9a-f]{10}$`).MatchString(name) {
			t.Errorf("%q has no hash suffix", name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("%+v and %+v share the name %q", prev, x, name)
		}
		seen[name] = x
	}
}
