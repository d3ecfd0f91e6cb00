package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const (
	testVersion = "v0.0.0-test.1"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	caCerts     = "/etc/ssl/certs/ca-certificates.crt"
)

var testPlatforms = []string{"linux/amd64", "linux/arm64"}

// TestImages builds both images for amd64 and arm64 and checks each tarball: one image
// per platform in its index, the nonroot user, the entrypoint and labels, the CA
// certificates, no shell, the binary's ELF machine, and that the amd64 entrypoint runs
// and prints the build's version.
func TestImages(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Fatalf("the entrypoint check runs the linux/amd64 binary; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	out := t.TempDir()
	start := time.Now()
	built, err := Build(Options{Root: "../../..", Out: out, Version: testVersion, Commit: testCommit,
		Repository: DefaultRepository, CACerts: caCerts, Platforms: testPlatforms, Created: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %d images for %v in %s", len(built), testPlatforms, time.Since(start).Round(time.Second))
	certs, err := os.ReadFile(caCerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range built {
		t.Run(b.Binary.Name, func(t *testing.T) {
			fi, err := os.Stat(b.Path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s, %.1f MiB", b.Ref, filepath.Base(b.Path), float64(fi.Size())/(1<<20))
			idx, ref := loadIndex(t, b.Path)
			if want := DefaultRepository + "/" + b.Binary.Name + ":" + testVersion; ref != want {
				t.Errorf("ref.name %q, want %q", ref, want)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var platforms []string
			for _, d := range im.Manifests {
				platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
			}
			if !slices.Equal(platforms, testPlatforms) {
				t.Fatalf("platforms %v, want one image for each of %v", platforms, testPlatforms)
			}
			for _, d := range im.Manifests {
				img, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				checkImage(t, b.Binary, d.Platform, img, certs)
			}
			for _, p := range b.Platforms {
				t.Logf("%s %s: %.1f MiB compressed, %.1f MiB uncompressed", b.Binary.Name, p.Platform,
					float64(p.Compressed)/(1<<20), float64(p.Uncompressed)/(1<<20))
			}
		})
	}
}

// loadIndex reads the OCI layout in the tarball at path and returns the image index its
// index.json names, with its ref.name.
func loadIndex(t *testing.T, path string) (v1.ImageIndex, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eachEntry(t, f, func(h *tar.Header, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			return
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 {
		t.Fatalf("index.json names %d manifests, want one image index", len(tm.Manifests))
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx, tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
}

// eachEntry calls fn with every entry of the tar stream r and its content.
func eachEntry(t *testing.T, r io.Reader, fn func(h *tar.Header, data []byte)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h, data)
	}
}

func checkImage(t *testing.T, b Binary, p *v1.Platform, img v1.Image, certs []byte) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("%s: config says %s/%s", p, cf.OS, cf.Architecture)
	}
	if cf.Config.User != User {
		t.Errorf("%s: user %q, want %q", p, cf.Config.User, User)
	}
	uid, _, _ := strings.Cut(cf.Config.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("%s: user %q is not a non-root uid", p, cf.Config.User)
	}
	if !slices.Equal(cf.Config.Entrypoint, b.Entrypoint()) {
		t.Errorf("%s: entrypoint %v, want %v", p, cf.Config.Entrypoint, b.Entrypoint())
	}
	for k, want := range b.Labels(testVersion, testCommit) {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("%s: label %s=%q, want %q", p, k, got, want)
		}
	}
	onPath := false
	for _, e := range cf.Config.Env {
		if path, ok := strings.CutPrefix(e, "PATH="); ok {
			onPath = slices.Contains(filepath.SplitList(path), BinDir)
		}
	}
	if !onPath {
		t.Errorf("%s: %s is not on PATH (%v); the webhook runs the agent by name", p, BinDir, cf.Config.Env)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		eachEntry(t, rc, func(h *tar.Header, data []byte) {
			files["/"+strings.TrimSuffix(h.Name, "/")] = data
		})
		rc.Close()
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/sh"} {
		if _, ok := files[sh]; ok {
			t.Errorf("%s: the image has a shell: %s", p, sh)
		}
	}
	if !bytes.Equal(files["/etc/ssl/certs/ca-certificates.crt"], certs) {
		t.Errorf("%s: /etc/ssl/certs/ca-certificates.crt differs from %s", p, caCerts)
	}
	if !strings.Contains(string(files["/etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("%s: /etc/passwd has no nonroot user 65532:\n%s", p, files["/etc/passwd"])
	}
	exe, ok := files[cf.Config.Entrypoint[0]]
	if !ok {
		t.Fatalf("%s: the entrypoint %s is not in the image", p, cf.Config.Entrypoint[0])
	}
	ef, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("%s: entrypoint: %v", p, err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]
	if ef.Machine != want {
		t.Errorf("%s: the binary is for %s, want %s", p, ef.Machine, want)
	}
	if slices.ContainsFunc(ef.Progs, func(pr *elf.Prog) bool { return pr.Type == elf.PT_INTERP }) {
		t.Errorf("%s: the binary is dynamically linked", p)
	}
	if !bytes.Contains(exe, []byte("Europe/Paris")) { // a name in time/tzdata's embedded zip
		t.Errorf("%s: the binary does not embed time/tzdata, and the image has no zoneinfo", p)
	}
	if p.Architecture != runtime.GOARCH {
		return
	}
	bin := filepath.Join(t.TempDir(), b.Name)
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	outb, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", b.Name, err, outb)
	}
	wantLine := b.Name + " " + testVersion + " (commit " + testCommit + ", go"
	if !strings.HasPrefix(string(outb), wantLine) || !strings.Contains(string(outb), "linux/amd64)") {
		t.Errorf("%s --version printed %q, want %q…", b.Name, outb, wantLine)
	}
	t.Logf("%s: %s", p, strings.TrimSpace(string(outb)))
}

// TestDockerfile parses the Dockerfile with BuildKit's parser and checks that each
// binary's stage matches the offline build: a distroless static nonroot base, the same
// user, entrypoint and labels, and a static, trimmed, versioned go build.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	type stage struct {
		base, user string
		entrypoint []string
		labels     map[string]string
		runs       []string
		copies     [][]string
	}
	stages := map[string]*stage{}
	var cur *stage
	var last string
	for _, n := range res.AST.Children {
		args := words(n)
		switch strings.ToLower(n.Value) {
		case "from":
			cur = &stage{base: args[0], labels: map[string]string{}}
			if parent := stages[args[0]]; parent != nil { // FROM an earlier stage inherits it
				cur.base, cur.user, cur.entrypoint = parent.base, parent.user, parent.entrypoint
				maps.Copy(cur.labels, parent.labels)
			}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				last = args[2]
				stages[last] = cur
			}
		case "user":
			cur.user = args[0]
		case "entrypoint":
			if !n.Attributes["json"] {
				t.Errorf("line %d: ENTRYPOINT in shell form needs a shell; use the exec (JSON) form", n.StartLine)
			}
			cur.entrypoint = args
		case "label":
			for i := 0; i+1 < len(args); i += 3 { // key, value, "="
				cur.labels[args[i]] = args[i+1]
			}
		case "run":
			cur.runs = append(cur.runs, strings.Join(args, " "))
		case "copy":
			cur.copies = append(cur.copies, append(slices.Clone(n.Flags), args...))
		}
	}
	build := stages["build"]
	if build == nil || len(build.runs) == 0 {
		t.Fatal("no build stage with a RUN")
	}
	goBuild := build.runs[len(build.runs)-1]
	for _, want := range []string{"CGO_ENABLED=0", "go build -trimpath", versionPkg + ".Version=${VERSION}", versionPkg + ".Commit=${COMMIT}"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the build stage's go build lacks %q: %s", want, goBuild)
		}
	}
	if last != "operator" {
		t.Errorf("the last (default) stage is %q, want operator", last)
	}
	for _, b := range Binaries {
		short := strings.TrimPrefix(b.Name, "cassandra-backup-")
		s := stages[short]
		if s == nil {
			t.Errorf("no stage %q for %s", short, b.Name)
			continue
		}
		if s.base != "gcr.io/distroless/static:nonroot" {
			t.Errorf("%s: base %s, want gcr.io/distroless/static:nonroot", short, s.base)
		}
		if s.user != User {
			t.Errorf("%s: USER %s, want %s (as the offline build)", short, s.user, User)
		}
		if !slices.Equal(s.entrypoint, b.Entrypoint()) {
			t.Errorf("%s: ENTRYPOINT %v, want %v", short, s.entrypoint, b.Entrypoint())
		}
		wantCopy := []string{"--from=build", "/out/" + b.Name, b.Entrypoint()[0]}
		if !slices.ContainsFunc(s.copies, func(c []string) bool { return slices.Equal(c, wantCopy) }) {
			t.Errorf("%s: no COPY %v", short, wantCopy)
		}
		want := b.Labels("${VERSION}", "${COMMIT}")
		for k, v := range want {
			if s.labels[k] != v {
				t.Errorf("%s: LABEL %s=%q, want %q", short, k, s.labels[k], v)
			}
		}
		for k := range s.labels {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: LABEL %s is not set by the offline build", short, k)
			}
		}
	}
}

// words returns an instruction's arguments with their quotes removed.
func words(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		v := a.Value
		if u, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = u
		}
		out = append(out, v)
	}
	return out
}

// TestKustomizeNamesTheImages checks that manifests/kustomization.yaml names the images
// this tool builds, in its images: transformer (the one place to set registry and tag).
func TestKustomizeNamesTheImages(t *testing.T) {
	data, err := os.ReadFile("../../../manifests/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, images, ok := strings.Cut(string(data), "\nimages:\n")
	if !ok {
		t.Fatal("manifests/kustomization.yaml has no images: transformer")
	}
	for _, b := range Binaries {
		if !strings.Contains(images, "- name: "+DefaultRepository+"/"+b.Name+"\n") {
			t.Errorf("manifests/kustomization.yaml images: does not name %s/%s", DefaultRepository, b.Name)
		}
	}
}
