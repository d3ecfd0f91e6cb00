package api_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// A CassandraBackupVerification's sample, name and history limit are checked by the API
// server; a valid one is accepted with its defaults.
func TestVerificationValidation(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	res := dynamic.NewForConfigOrDie(cp.Config()).Resource(v1alpha1.SchemeGroupVersion.WithResource("cassandrabackupverifications")).Namespace(ns)
	obj := func(name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.SchemeGroupVersion.String(), "kind": "CassandraBackupVerification",
			"metadata": map[string]any{"name": name}, "spec": spec}}
	}
	for _, tc := range []struct {
		name string
		spec map[string]any
		want string
	}{
		{"no-backup", map[string]any{}, "spec.backupName"},
		{"sample-without-percent", map[string]any{"backupName": "b", "sample": "10"}, "spec.sample"},
		{"sample-above-100", map[string]any{"backupName": "b", "sample": "150%"}, "spec.sample"},
		{"negative-history", map[string]any{"backupName": "b", "historyLimit": int64(-1)}, "spec.historyLimit"},
		{strings.Repeat("n", 48), map[string]any{"backupName": "b"}, "at most 47 characters"},
	} {
		_, err := res.Create(t.Context(), obj(tc.name, tc.spec), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	created, err := res.Create(t.Context(), obj("good", map[string]any{"backupName": "b", "sample": "2.5%"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if limit, _, _ := unstructured.NestedInt64(created.Object, "spec", "historyLimit"); limit != 5 {
		t.Errorf("historyLimit defaults to %d, want 5", limit)
	}
}
