# syntax=docker/dockerfile:1
# The operator's and the agent's images, for machines with a container engine:
#
#   docker buildx build --platform linux/amd64,linux/arm64 --target operator \
#     --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t ghcr.io/cassbackup/cassandra-backup-operator:v0.1.0 .
#   (--target agent -t ghcr.io/cassbackup/cassandra-backup-agent:v0.1.0 for the agent)
#
# `make images` builds the same images without an engine (hack/tools/images), and
# hack/tools/images checks that this file agrees with it: base, user, entrypoint, labels.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
# Static binaries (no cgo), no local paths, the version set by the linker; the binaries
# embed time/tzdata themselves.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/cassbackup/cassandra-backup-operator/pkg/version.Version=${VERSION} -X github.com/cassbackup/cassandra-backup-operator/pkg/version.Commit=${COMMIT}" \
      -o /out/ ./cmd/cassandra-backup-operator ./cmd/cassandra-backup-agent

# What both images share: the base, the nonroot user, the release's labels.
FROM gcr.io/distroless/static:nonroot AS runtime
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://github.com/cassbackup/cassandra-backup-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532

# The agent: sidecar (`serve`) and restore init container (`restore`).
FROM runtime AS agent
LABEL org.opencontainers.image.title="cassandra-backup-agent" \
      org.opencontainers.image.description="Per-node backup agent (sidecar) and restore init container for Apache Cassandra"
COPY --from=build /out/cassandra-backup-agent /usr/local/bin/cassandra-backup-agent
ENTRYPOINT ["/usr/local/bin/cassandra-backup-agent"]

# The operator (the default target).
FROM runtime AS operator
LABEL org.opencontainers.image.title="cassandra-backup-operator" \
      org.opencontainers.image.description="Backup and restore controllers and restore webhook for Apache Cassandra on Kubernetes"
COPY --from=build /out/cassandra-backup-operator /usr/local/bin/cassandra-backup-operator
ENTRYPOINT ["/usr/local/bin/cassandra-backup-operator"]
