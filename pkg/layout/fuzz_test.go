package layout

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLocalPath checks that no object key maps outside the data directory.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{
		"data/ks/t-" + tid + "/2-3898601042/nb-2-big-Data.db",
		"data/ks/t-" + tid + "/.idx/2-1/nb-2-big-Data.db",
		"data/ks/t-" + tid + "/../../../etc/passwd",
		"/etc/passwd", "data/ks/t-" + tid + "/2-1/..", "..", ".", "", "data/./x", `data\..\x`,
	} {
		f.Add(s)
	}
	dd := filepath.Join(f.TempDir(), "data")
	f.Fuzz(func(t *testing.T, key string) {
		p, err := LocalPath(dd, key)
		if err != nil {
			return
		}
		if ValidateObjectKey(key) != nil {
			t.Fatalf("LocalPath accepted %q that ValidateObjectKey refuses", key)
		}
		rel, err := filepath.Rel(dd, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			t.Fatalf("%q maps to %q, outside %q", key, p, dd)
		}
		if len(strings.Split(rel, string(filepath.Separator))) > 4 {
			t.Fatalf("%q maps too deep: %q", key, rel)
		}
	})
}

// FuzzValidateObjectKey checks that accepted keys are clean and relative.
func FuzzValidateObjectKey(f *testing.F) {
	for _, s := range []string{"a/b", "../a", "a/../b", "/a", "a//b", "a/./b", `a\b`, "a/b/", "C:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateObjectKey(key) != nil {
			return
		}
		if filepath.IsAbs(key) || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
			t.Fatalf("accepted absolute or backslashed %q", key)
		}
		for _, s := range strings.Split(key, "/") {
			if s == "" || s == "." || s == ".." {
				t.Fatalf("accepted %q with segment %q", key, s)
			}
		}
	})
}
