# The two commands of the README. Both do their own set-up on a fresh machine.

.PHONY: test demo codegen verify-codegen images manifests verify-manifests chart plugin

# Release identity of `make images`: the newest v* tag (else v0.1.0-dev) and the commit.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.1.0-dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PLATFORMS ?= linux/amd64,linux/arm64
REPOSITORY ?= ghcr.io/cassbackup

# The whole test suite: builds or reuses the cached control plane and emulators.
test:
	./hack/test.sh

# The guide's backup and restore on this machine, no cluster needed: a local control
# plane, the operator and webhook, 3 fake Cassandra nodes with agents, a file:// bucket;
# verifies the restored data byte for byte. DEMO_FLAGS="--linger 10m" keeps it up for kubectl.
demo:
	go run ./test/demo $(DEMO_FLAGS)

# Regenerate deepcopy, clients, listers, informers, apply configurations and CRDs.
codegen:
	./hack/update-codegen.sh

verify-codegen:
	./hack/verify-codegen.sh

# Render manifests/ (the kustomize install) from the Helm chart, its one source.
manifests:
	./hack/update-manifests.sh

verify-manifests:
	./hack/verify-manifests.sh

# Lint the Helm chart and package it into _output/charts/ (helm from hack/tools.sh).
chart:
	$$(./hack/tools.sh helm | cut -d= -f2) lint --strict charts/cassandra-backup-operator
	$$(./hack/tools.sh helm | cut -d= -f2) package charts/cassandra-backup-operator -d _output/charts

# The operator's and the agent's images, offline (no container engine, no registry):
# _output/images/<binary>.oci.tar, OCI image layouts with one image per platform,
# built by hack/tools/images (go-containerregistry) the way the Dockerfile builds them.
images:
	go -C hack/tools/images run . -root "$(CURDIR)" -out "$(CURDIR)/_output/images" \
		-version "$(VERSION)" -commit "$(COMMIT)" -source-date-epoch "$(SOURCE_DATE_EPOCH)" \
		-repository "$(REPOSITORY)" -platforms "$(PLATFORMS)"

# The kubectl plugin for every release platform: _output/plugin/kubectl-cassandra_backup-<os>-<arch>,
# static, with the release version (kubectl cassandra-backup --version).
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
plugin:
	@for p in $(PLUGIN_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "_output/plugin/kubectl-cassandra_backup-$$os-$$arch$$ext"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath \
			-ldflags "-s -w -X github.com/cassbackup/cassandra-backup-operator/pkg/version.Version=$(VERSION) -X github.com/cassbackup/cassandra-backup-operator/pkg/version.Commit=$(COMMIT)" \
			-o _output/plugin/kubectl-cassandra_backup-$$os-$$arch$$ext ./cmd/kubectl-cassandra_backup || exit 1; \
	done
