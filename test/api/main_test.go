// Package api_test checks the API types, the generated clients and the CRDs against a
// real kube-apiserver: the guide's YAML applies unchanged, kubectl prints the guide's
// columns, and malformed objects are refused by the API server.
package api_test

import (
	"os"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }
