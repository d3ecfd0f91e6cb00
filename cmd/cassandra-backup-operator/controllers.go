package main

import (
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/location"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/metrics"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/verification"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
)

// components are what the operator runs: controllers while it leads, and the
// webhook (an operator.Replicated) on every replica. Add one with one line, as in
// `backup.New,` for a func New(operator.Deps) (operator.Component, error).
var components = []operator.NewFunc{
	backup.New,
	restore.New,
	restore.NewCassDatacenters,
	metrics.New,
	schedule.New,
	verification.New,
	tablerestore.New,
	location.New,
	webhook.New,
}
