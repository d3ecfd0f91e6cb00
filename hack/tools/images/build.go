package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// DefaultRepository is where the images are published; manifests/kustomization.yaml
	// names the same images.
	DefaultRepository = "ghcr.io/cassbackup"
	// Source is the repository the labels point at.
	Source = "https://github.com/cassbackup/cassandra-backup-operator"
	// License is the SPDX identifier of the project's license.
	License = "Apache-2.0"
	// User is the nonroot user and group of gcr.io/distroless/static:nonroot.
	User = "65532:65532"
	// versionPkg is the package whose variables the version ldflags set.
	versionPkg = "github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// Binary is one image: a command of the main module.
type Binary struct {
	Name        string // binary and image name
	Package     string // main package, relative to the module root
	Description string
}

// Binaries are the images the project ships.
var Binaries = []Binary{
	{Name: "cassandra-backup-operator", Package: "./cmd/cassandra-backup-operator",
		Description: "Backup and restore controllers and restore webhook for Apache Cassandra on Kubernetes"},
	{Name: "cassandra-backup-agent", Package: "./cmd/cassandra-backup-agent",
		Description: "Per-node backup agent (sidecar) and restore init container for Apache Cassandra"},
}

// BinDir is where the binaries live in the images; it is on PATH, so a pod may name the
// binary alone (the webhook's restore init container runs "cassandra-backup-agent").
const BinDir = "/usr/local/bin"

// Entrypoint is the entrypoint of b's image.
func (b Binary) Entrypoint() []string { return []string{BinDir + "/" + b.Name} }

// Labels are the OCI annotations of b's image at version and commit.
func (b Binary) Labels(version, commit string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       b.Name,
		"org.opencontainers.image.description": b.Description,
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    commit,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.licenses":    License,
	}
}

// Options say what to build.
type Options struct {
	Root, Out           string
	Version, Commit     string
	Repository, CACerts string
	Platforms           []string // os/arch
	Created             time.Time
	Binaries            []Binary // all when empty
}

// Built is one written tarball.
type Built struct {
	Binary    Binary
	Path, Ref string
	Platforms []PlatformSize
}

// PlatformSize is the size of one platform's image: compressed as stored and pulled
// (manifest, config and layer) and its layer uncompressed.
type PlatformSize struct {
	Platform                 string
	Compressed, Uncompressed int64
}

// Build writes <Out>/<binary>.oci.tar for every binary: an OCI image layout whose
// index.json names one image index, tagged <Repository>/<binary>:<Version>, with one
// image per platform.
func Build(o Options) ([]Built, error) {
	bins := o.Binaries
	if len(bins) == 0 {
		bins = Binaries
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var out []Built
	for _, b := range bins {
		built := Built{Binary: b, Path: filepath.Join(o.Out, b.Name+".oci.tar"), Ref: o.Repository + "/" + b.Name + ":" + o.Version}
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		for _, p := range o.Platforms {
			goos, arch, ok := strings.Cut(p, "/")
			if !ok {
				return nil, fmt.Errorf("platform %q: want os/arch", p)
			}
			bin := filepath.Join(tmp, goos+"-"+arch, b.Name)
			if err := goBuild(o, b, goos, arch, bin); err != nil {
				return nil, err
			}
			img, size, err := image(o, b, goos, arch, bin, certs)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", b.Name, p, err)
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
				Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: arch}}})
			built.Platforms = append(built.Platforms, size)
		}
		idx = mutate.Annotations(idx, b.Labels(o.Version, o.Commit)).(v1.ImageIndex)
		if err := writeLayout(filepath.Join(tmp, b.Name+".oci"), built.Path, built.Ref, idx); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name, err)
		}
		out = append(out, built)
	}
	return out, nil
}

// LDFlags are the linker flags of a release build: no symbol tables, and the version.
func LDFlags(version, commit string) string {
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", versionPkg, version, versionPkg, commit)
}

func goBuild(o Options, b Binary, goos, arch, bin string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", LDFlags(o.Version, o.Commit), "-o", bin, b.Package)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %w\n%s", b.Package, goos, arch, err, out)
	}
	return nil
}

// image is the empty base plus one layer with the binary and the files of a distroless
// static nonroot base.
func image(o Options, b Binary, goos, arch, bin string, certs []byte) (v1.Image, PlatformSize, error) {
	size := PlatformSize{Platform: goos + "/" + arch}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, size, err
	}
	files := []file{
		{name: "etc/", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: 65532, gid: 65532},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: strings.TrimPrefix(BinDir, "/") + "/" + b.Name, mode: 0o755, data: exe},
	}
	tarData, err := tarFiles(files, o.Created)
	if err != nil {
		return nil, size, err
	}
	size.Uncompressed = int64(len(tarData))
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarData)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, size, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "hack/tools/images: " + b.Name + " " + o.Version, Comment: "static binary, CA certificates, nonroot user"}})
	if err != nil {
		return nil, size, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, size, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = goos, arch
	cf.Created = v1.Time{Time: o.Created}
	cf.Config.User = User
	cf.Config.Entrypoint = b.Entrypoint()
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cf.Config.Labels = b.Labels(o.Version, o.Commit)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, size, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, size, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, size, err
	}
	size.Compressed = int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		size.Compressed += l.Size
	}
	return img, size, nil
}

type file struct {
	name     string // ends in / for a directory
	mode     int64
	uid, gid int
	data     []byte
}

func tarFiles(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayout writes idx as an OCI image layout in dir, tagged ref
// (org.opencontainers.image.ref.name), and tars the layout into path.
func writeLayout(dir, path, ref string, idx v1.ImageIndex) error {
	os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return err
	}
	return tarDir(dir, path)
}

// tarDir writes the files under dir into a tar at path, in a stable order.
func tarDir(dir, path string) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(path + ".tmp")
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		} else {
			h.Typeflag, h.Size = tar.TypeReg, info.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
