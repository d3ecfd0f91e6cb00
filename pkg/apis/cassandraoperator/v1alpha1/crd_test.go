package v1alpha1

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Every json field of the Go types has a property with a description in the CRD schema,
// and every schema property has a Go field: the CRDs in manifests/crds have not drifted
// from the types (hack/verify-codegen.sh checks the same by regenerating them).
func TestCRDSchemaMatchesGoTypes(t *testing.T) {
	for file, typ := range map[string]reflect.Type{
		"cassandraoperator.instaclustr.com_cassandrabackups.yaml":             reflect.TypeFor[CassandraBackup](),
		"cassandraoperator.instaclustr.com_cassandradatacenters.yaml":         reflect.TypeFor[CassandraDataCenter](),
		"cassandraoperator.instaclustr.com_cassandrabackupverifications.yaml": reflect.TypeFor[CassandraBackupVerification](),
		"cassandraoperator.instaclustr.com_cassandrabackuplocations.yaml":     reflect.TypeFor[CassandraBackupLocation](),
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "manifests", "crds", file))
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			t.Fatal(err)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != SchemeGroupVersion.Version {
			t.Fatalf("%s: versions %v", file, crd.Spec.Versions)
		}
		compare(t, typ.Name(), typ, crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	}
}

var (
	opaque = map[reflect.Type]bool{
		reflect.TypeFor[metav1.ObjectMeta](): true,
		reflect.TypeFor[metav1.Time]():       true,
		reflect.TypeFor[metav1.Duration]():   true,
		reflect.TypeFor[metav1.Condition]():  true,
		reflect.TypeFor[resource.Quantity](): true,
	}
)

func compare(t *testing.T, path string, typ reflect.Type, schema *apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		if typ.Kind() == reflect.Slice {
			if schema.Items == nil || schema.Items.Schema == nil {
				t.Errorf("%s: schema has no items", path)
				return
			}
			schema = schema.Items.Schema
			path += "[]"
		}
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || opaque[typ] {
		return
	}
	seen := map[string]bool{}
	for _, f := range jsonFields(typ) {
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		seen[tag] = true
		prop, ok := schema.Properties[tag]
		if !ok {
			t.Errorf("%s.%s: Go field %s has no schema property", path, tag, f.Name)
			continue
		}
		if prop.Description == "" && tag != "metadata" {
			t.Errorf("%s.%s: no description (add a doc comment to %s)", path, tag, f.Name)
		}
		compare(t, path+"."+tag, f.Type, &prop)
	}
	for name := range schema.Properties {
		if !seen[name] && name != "apiVersion" && name != "kind" {
			t.Errorf("%s.%s: schema property has no Go field", path, name)
		}
	}
}

// jsonFields returns the fields of typ as JSON sees them: the fields of a struct embedded
// inline (TransferRate, ProgressSummary) in its place, TypeMeta's apiVersion and kind left
// out (they are checked by name).
func jsonFields(typ reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for f := range typ.Fields() {
		if f.Anonymous && strings.Split(f.Tag.Get("json"), ",")[0] == "" {
			if f.Type != reflect.TypeFor[metav1.TypeMeta]() {
				out = append(out, jsonFields(f.Type)...)
			}
			continue
		}
		out = append(out, f)
	}
	return out
}
