package api_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// TestRestoreImmutable: once set, spec.restore cannot change (it would restore another
// backup over a live datacenter), only be removed; set again afterwards, it is a new
// restore. The API server enforces it (CEL on the CRD).
func TestRestoreImmutable(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	dyn := dynamic.NewForConfigOrDie(cp.Config()).Resource(dcsGVR).Namespace(ns)
	if _, err := dyn.Create(t.Context(), validDataCenter("restored"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := func(p string) error {
		_, err := dyn.Patch(t.Context(), "restored", types.MergePatchType, []byte(p), metav1.PatchOptions{})
		return err
	}
	for _, p := range []string{
		`{"spec":{"restore":{"backupName":"b2"}}}`,
		`{"spec":{"restore":{"secret":"other-secret"}}}`,
	} {
		if err := patch(p); err == nil || !strings.Contains(err.Error(), "spec.restore cannot change once set") {
			t.Errorf("patch %s: %v", p, err)
		}
	}
	// Fields of the datacenter's own operator still change.
	if err := patch(`{"spec":{"nodes":5,"image":"cassandra:4.1"}}`); err != nil {
		t.Errorf("changing other spec fields: %v", err)
	}
	if err := patch(`{"spec":{"restore":null}}`); err != nil {
		t.Fatalf("removing spec.restore: %v", err)
	}
	if err := patch(`{"spec":{"restore":{"backupName":"b2"}}}`); err != nil {
		t.Errorf("setting spec.restore again after removing it: %v", err)
	}
}
