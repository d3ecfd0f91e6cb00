package storage

import (
	"fmt"
	"net"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Location schemes understood by ParseLocation.
const (
	// SchemeS3 is Amazon S3 or an S3-compatible server (awsendpoint).
	SchemeS3 = "s3"
	// SchemeAzure is Azure Blob Storage; the bucket is a container.
	SchemeAzure = "azure"
	// SchemeGCP is Google Cloud Storage.
	SchemeGCP = "gcp"
	// SchemeFile is a local directory.
	SchemeFile = "file"
)

var schemes = []string{SchemeS3, SchemeAzure, SchemeGCP, SchemeFile}

// Location is a parsed storageLocation, following Esop's rules:
//
//	proto://bucket                          global (a backup of every node)
//	proto://bucket/cluster/dc/node          one node
//	file:///dir/bucket                      global, in a local directory
//	file:///dir/bucket/cluster/dc/node      one node, in a local directory
//
// A trailing slash is ignored. For file:// the directory is everything before the bucket
// and must be absolute. A file:// path names one node only when it has at least five
// segments and the last is a host id (a UUID, as Cassandra's are); any other path is a
// global location, however deep its directory.
type Location struct {
	// Scheme is s3, azure, gcp or file.
	Scheme string
	// Dir is the absolute directory that holds the bucket (file only).
	Dir string
	// Bucket is the bucket, container or (file) directory name.
	Bucket string
	// Cluster, DC and Node are set for a per-node location, all empty for a global one.
	Cluster, DC, Node string
}

// ParseLocation parses a storageLocation and validates the bucket name by the rules of
// its cloud. Its errors say what is wrong.
func ParseLocation(s string) (Location, error) {
	if s == "" {
		return Location{}, fmt.Errorf("storage location is empty: want proto://bucket or proto://bucket/cluster/dc/node")
	}
	if !utf8.ValidString(s) {
		return Location{}, fmt.Errorf("storage location %q is not valid UTF-8", s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return Location{}, fmt.Errorf("storage location %q contains a space or control character at byte %d", s, i)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Location{}, fmt.Errorf("storage location %q has no scheme: want one of %s followed by ://", s, schemeList())
	}
	if !knownScheme(scheme) {
		if knownScheme(strings.ToLower(scheme)) {
			return Location{}, fmt.Errorf("storage location %q: scheme %q must be lower case", s, scheme)
		}
		return Location{}, fmt.Errorf("storage location %q: unknown scheme %q: want one of %s", s, scheme, schemeList())
	}
	if strings.ContainsAny(rest, "?#") {
		return Location{}, fmt.Errorf("storage location %q: query strings and fragments are not allowed", s)
	}
	rest = strings.TrimSuffix(rest, "/")
	if scheme == SchemeFile {
		return parseFile(s, rest)
	}
	if rest == "" {
		return Location{}, fmt.Errorf("storage location %q has no bucket: want %s://bucket", s, scheme)
	}
	segs := strings.Split(rest, "/")
	loc := Location{Scheme: scheme, Bucket: segs[0]}
	switch len(segs) {
	case 1:
	case 4:
		loc.Cluster, loc.DC, loc.Node = segs[1], segs[2], segs[3]
	default:
		return Location{}, fmt.Errorf("storage location %q has %d path segments after the bucket: want none (%s://bucket) or three (%s://bucket/cluster/dc/node)", s, len(segs)-1, scheme, scheme)
	}
	if err := ValidateBucket(scheme, loc.Bucket); err != nil {
		return Location{}, fmt.Errorf("storage location %q: %w", s, err)
	}
	if err := loc.validateNode(); err != nil {
		return Location{}, fmt.Errorf("storage location %q: %w", s, err)
	}
	return loc, nil
}

func parseFile(s, rest string) (Location, error) {
	if !strings.HasPrefix(rest, "/") {
		return Location{}, fmt.Errorf("storage location %q: file:// needs an absolute path, as in file:///var/backups/bucket", s)
	}
	if path.Clean(rest) != rest {
		return Location{}, fmt.Errorf("storage location %q: path is not clean (empty, . or .. segments)", s)
	}
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	loc := Location{Scheme: SchemeFile}
	switch {
	case len(segs) < 2:
		return Location{}, fmt.Errorf("storage location %q: file:// needs a directory and a bucket, as in file:///var/backups/bucket", s)
	case len(segs) >= 5 && isHostID(segs[len(segs)-1]):
		n := len(segs)
		loc.Dir = "/" + strings.Join(segs[:n-4], "/")
		loc.Bucket, loc.Cluster, loc.DC, loc.Node = segs[n-4], segs[n-3], segs[n-2], segs[n-1]
	default:
		loc.Dir = "/" + strings.Join(segs[:len(segs)-1], "/")
		loc.Bucket = segs[len(segs)-1]
	}
	if err := ValidateBucket(SchemeFile, loc.Bucket); err != nil {
		return Location{}, fmt.Errorf("storage location %q: %w", s, err)
	}
	if err := loc.validateNode(); err != nil {
		return Location{}, fmt.Errorf("storage location %q: %w", s, err)
	}
	return loc, nil
}

// isHostID reports whether s is a UUID in its canonical text form, as Cassandra host ids are.
func isHostID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func (l Location) validateNode() error {
	if l.Cluster == "" && l.DC == "" && l.Node == "" {
		return nil
	}
	for _, p := range []struct{ what, v string }{{"cluster", l.Cluster}, {"dc", l.DC}, {"node", l.Node}} {
		if err := validateSegment(p.v); err != nil {
			return fmt.Errorf("%s %w", p.what, err)
		}
	}
	return nil
}

func validateSegment(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("is empty")
	case v == "." || v == "..":
		return fmt.Errorf("%q is not a name", v)
	case strings.ContainsAny(v, `\`):
		return fmt.Errorf("%q contains a backslash", v)
	}
	return nil
}

// Global reports whether the location names a whole bucket rather than one node.
func (l Location) Global() bool { return l.Node == "" }

// NodePrefix returns "cluster/dc/node/", the key prefix of a per-node location, or ""
// for a global one.
func (l Location) NodePrefix() string {
	if l.Global() {
		return ""
	}
	return l.Cluster + "/" + l.DC + "/" + l.Node + "/"
}

// ForNode returns the per-node location of cluster/dc/node in l's bucket.
func (l Location) ForNode(cluster, dc, node string) (Location, error) {
	n := l
	n.Cluster, n.DC, n.Node = cluster, dc, node
	if err := n.validateNode(); err != nil {
		return Location{}, err
	}
	if n.Global() {
		return Location{}, fmt.Errorf("cluster, dc and node are all empty")
	}
	return n, nil
}

// String formats l as a storageLocation that ParseLocation reads back.
func (l Location) String() string {
	var b strings.Builder
	b.WriteString(l.Scheme)
	b.WriteString("://")
	if l.Scheme == SchemeFile {
		b.WriteString(strings.TrimSuffix(l.Dir, "/"))
		b.WriteString("/")
	}
	b.WriteString(l.Bucket)
	if !l.Global() {
		b.WriteString("/" + l.NodePrefix())
		return strings.TrimSuffix(b.String(), "/")
	}
	return b.String()
}

// ValidateBucket checks a bucket name against the naming rules of scheme's cloud.
func ValidateBucket(scheme, name string) error {
	switch scheme {
	case SchemeS3:
		return validateS3Bucket(name)
	case SchemeAzure:
		return validateAzureContainer(name)
	case SchemeGCP:
		return validateGCSBucket(name)
	case SchemeFile:
		if err := validateSegment(name); err != nil {
			return fmt.Errorf("bucket %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown scheme %q: want one of %s", scheme, schemeList())
}

func validateS3Bucket(b string) error {
	if err := lengthAndCharset(b, "S3 bucket", 3, 63, "-."); err != nil {
		return err
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("S3 bucket %q must not contain two adjacent periods", b)
	}
	if net.ParseIP(b) != nil {
		return fmt.Errorf("S3 bucket %q must not be formatted as an IP address", b)
	}
	if strings.HasPrefix(b, "xn--") || strings.HasPrefix(b, "sthree-") || strings.HasSuffix(b, "-s3alias") || strings.HasSuffix(b, "--ol-s3") {
		return fmt.Errorf("S3 bucket %q uses a prefix or suffix that S3 reserves", b)
	}
	return nil
}

func validateAzureContainer(b string) error {
	if err := lengthAndCharset(b, "Azure container", 3, 63, "-"); err != nil {
		return err
	}
	if strings.Contains(b, "--") {
		return fmt.Errorf("Azure container %q must not contain two adjacent hyphens", b)
	}
	return nil
}

func validateGCSBucket(b string) error {
	max := 63
	if strings.Contains(b, ".") {
		max = 222
	}
	if err := lengthAndCharset(b, "GCS bucket", 3, max, "-_."); err != nil {
		return err
	}
	for _, part := range strings.Split(b, ".") {
		if len(part) == 0 || len(part) > 63 {
			return fmt.Errorf("GCS bucket %q: each dot-separated part must be 1 to 63 characters", b)
		}
	}
	if strings.HasPrefix(b, "goog") || strings.Contains(b, "google") || strings.Contains(b, "g00gle") {
		return fmt.Errorf("GCS bucket %q must not start with goog or contain google", b)
	}
	if net.ParseIP(b) != nil {
		return fmt.Errorf("GCS bucket %q must not be formatted as an IP address", b)
	}
	return nil
}

// lengthAndCharset checks the rules the three clouds share: lower-case letters, digits and
// the given punctuation, starting and ending with a letter or digit.
func lengthAndCharset(b, what string, min, max int, punct string) error {
	if len(b) < min || len(b) > max {
		return fmt.Errorf("%s %q must be %d to %d characters long, not %d", what, b, min, max, len(b))
	}
	for i, r := range b {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r >= 'A' && r <= 'Z':
			return fmt.Errorf("%s %q must be lower case", what, b)
		case strings.ContainsRune(punct, r):
			if i == 0 || i == len(b)-1 {
				return fmt.Errorf("%s %q must start and end with a letter or digit", what, b)
			}
		default:
			return fmt.Errorf("%s %q contains %q: only lower-case letters, digits and %q are allowed", what, b, r, punct)
		}
	}
	return nil
}

func knownScheme(s string) bool {
	for _, k := range schemes {
		if s == k {
			return true
		}
	}
	return false
}

func schemeList() string { return "s3://, azure://, gcp://, file://" }
