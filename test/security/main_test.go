// Package security runs attacks against the real binaries on the real control plane and
// asserts that each is refused.
package security

import (
	"os"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }
