package storage_test

import (
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// FuzzParseLocation checks that parsing never panics, that every accepted location
// formats back to itself, and that accepted parts are well-formed.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{
		"s3://bucket", "s3://bucket/c/d/n", "s3://bucket/", "azure://container/c/d/n", "gcp://b_1",
		"file:///var/backups/bucket", "file:///tmp/b/c/d/n", "file:///b", "file://rel/b", "s3://",
		"s3://a/b", "S3://x", "s3://b?x", "s3://b/c//n", "file:///a/../b", "gcp://goog", "://",
		"s3://192.168.0.1", "azure://a--b", "s3:///", "file:////", "s3://bucket/c/d/n/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := storage.ParseLocation(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		if err := storage.ValidateBucket(loc.Scheme, loc.Bucket); err != nil {
			t.Fatalf("accepted %q with an invalid bucket: %v", s, err)
		}
		if (loc.Cluster == "") != (loc.Node == "") || (loc.DC == "") != (loc.Node == "") {
			t.Fatalf("accepted %q with a partial node: %+v", s, loc)
		}
		for _, seg := range []string{loc.Bucket, loc.Cluster, loc.DC, loc.Node} {
			if strings.Contains(seg, "/") || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", s, seg)
			}
		}
		if loc.Scheme == storage.SchemeFile && !strings.HasPrefix(loc.Dir, "/") {
			t.Fatalf("accepted %q with a relative directory %q", s, loc.Dir)
		}
		again, err := storage.ParseLocation(loc.String())
		if err != nil {
			t.Fatalf("%q formats as %q, which does not parse: %v", s, loc.String(), err)
		}
		if again != loc {
			t.Fatalf("%q: round trip %+v -> %q -> %+v", s, loc, loc.String(), again)
		}
	})
}
