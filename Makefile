# The two commands of the README. Both do their own set-up on a fresh machine.

.PHONY: test codegen verify-codegen

# The whole test suite: builds or reuses the cached control plane and emulators.
test:
	./hack/test.sh

# Regenerate deepcopy, clients, listers, informers, apply configurations and CRDs.
codegen:
	./hack/update-codegen.sh

verify-codegen:
	./hack/verify-codegen.sh
