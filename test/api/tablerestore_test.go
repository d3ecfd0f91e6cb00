package api_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

var restoresGVR = schema.GroupVersionResource{Group: "cassandraoperator.instaclustr.com", Version: "v1alpha1", Resource: "cassandrarestores"}

// TestCassandraRestoreSpec: the API server refuses system keyspaces, and a change of
// anything but cancel and retry (CEL), and retry going down.
func TestCassandraRestoreSpec(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	dyn := dynamic.NewForConfigOrDie(cp.Config()).Resource(restoresGVR).Namespace(ns)
	obj := func(name, entities string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cassandraoperator.instaclustr.com/v1alpha1", "kind": "CassandraRestore",
			"metadata": map[string]any{"name": name},
			"spec":     map[string]any{"backupName": "b1", "entities": entities},
		}}
	}
	for _, e := range []string{"system_auth.roles", "ks1,system_schema", "system"} {
		if _, err := dyn.Create(t.Context(), obj("sys", e), metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "system keyspaces cannot be restored") {
			t.Errorf("entities %q: %v", e, err)
		}
	}
	if _, err := dyn.Create(t.Context(), obj("r", "ks1.t1,systemic"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := func(p string) error {
		_, err := dyn.Patch(t.Context(), "r", types.MergePatchType, []byte(p), metav1.PatchOptions{})
		return err
	}
	for _, p := range []string{
		`{"spec":{"backupName":"b2"}}`, `{"spec":{"entities":"ks2"}}`, `{"spec":{"truncate":true}}`,
		`{"spec":{"secret":"other"}}`, `{"spec":{"minFreeBytes":"1Gi"}}`,
	} {
		if err := patch(p); err == nil || !strings.Contains(err.Error(), "only cancel and retry can change") && !strings.Contains(err.Error(), "immutable") {
			t.Errorf("patch %s: %v", p, err)
		}
	}
	for _, p := range []string{`{"spec":{"retry":2}}`, `{"spec":{"cancel":true}}`} {
		if err := patch(p); err != nil {
			t.Errorf("patch %s: %v", p, err)
		}
	}
	if err := patch(`{"spec":{"retry":1}}`); err == nil || !strings.Contains(err.Error(), "retry only grows") {
		t.Errorf("retry going down: %v", err)
	}
}
