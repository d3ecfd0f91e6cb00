package main

import (
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
)

// controllers are the controllers the operator runs while it leads. Add one with one
// line, as in `backup.New,` for a func New(operator.Deps) (operator.Controller, error).
var controllers = []operator.NewFunc{
	backup.New,
	restore.New,
}
