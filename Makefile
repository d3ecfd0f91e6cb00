# The two commands of the README. Both do their own set-up on a fresh machine.

.PHONY: test demo codegen verify-codegen

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
