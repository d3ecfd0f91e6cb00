// Command images builds the operator's and the agent's container images without a
// container engine, as OCI image-layout tarballs (one per binary, one manifest per
// platform in an image index), with go-containerregistry:
//
//	go run . -root ../../.. -version v0.1.0 -commit $(git rev-parse HEAD) -out ../../../_output/images
//
// Each image is an empty base plus one layer: the static binary (built with
// CGO_ENABLED=0 -trimpath and the version ldflags; time/tzdata is embedded by the
// binaries themselves), the machine's CA certificates, /etc/passwd and /etc/group with
// the nonroot user 65532, /home/nonroot and /tmp — what gcr.io/distroless/static:nonroot,
// the Dockerfile's base, provides. The config runs the binary as 65532:65532 and carries
// the OCI labels. `make images` runs this.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	var o Options
	var platforms string
	flag.StringVar(&o.Root, "root", "../../..", "repository root (the main module)")
	flag.StringVar(&o.Out, "out", "../../../_output/images", "directory the <binary>.oci.tar files are written to")
	flag.StringVar(&o.Version, "version", "dev", "version set in the binaries and the labels, and the image tag")
	flag.StringVar(&o.Commit, "commit", "unknown", "commit set in the binaries and the labels")
	flag.StringVar(&o.Repository, "repository", DefaultRepository, "registry and path the image names start with (manifests/kustomization.yaml names the same)")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA certificate bundle copied into the images")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	epoch := flag.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "creation time (Unix seconds) of the images and their files; 0 when empty")
	flag.Parse()
	o.Platforms = strings.Split(platforms, ",")
	if *epoch != "" {
		sec, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "images: -source-date-epoch %q: %v\n", *epoch, err)
			os.Exit(2)
		}
		o.Created = time.Unix(sec, 0).UTC()
	}
	built, err := Build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(1)
	}
	for _, b := range built {
		fmt.Printf("%s\t%s\n", b.Path, b.Ref)
		for _, p := range b.Platforms {
			fmt.Printf("  %-12s %6.1f MiB compressed (%6.1f MiB uncompressed)\n", p.Platform, float64(p.Compressed)/(1<<20), float64(p.Uncompressed)/(1<<20))
		}
	}
}
