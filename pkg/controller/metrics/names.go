package metrics

// The names of the metrics the operator exports about backups and restores.
const (
	// Backups counts CassandraBackups by namespace and state (gauge).
	Backups = "cassandra_backup_backups"
	// LastSuccess is the completion time of the newest completed backup per namespace,
	// cluster and datacenter, in Unix seconds (gauge).
	LastSuccess = "cassandra_backup_last_success_timestamp_seconds"
	// Duration is the histogram of backup durations (start to completion) by namespace,
	// cluster, datacenter and result.
	Duration = "cassandra_backup_duration_seconds"
	// Size is the histogram of the bytes of completed backups (all nodes) by namespace,
	// cluster and datacenter.
	Size = "cassandra_backup_size_bytes"
	// RestoreState is 1 for each datacenter's current restore state (gauge).
	RestoreState = "cassandra_backup_restore_state"
	// RestoreDuration is the histogram of restore durations (the datacenter's creation to
	// the restore's end) by namespace, cluster, datacenter and result; its _count is the
	// number of restores that ended.
	RestoreDuration = "cassandra_backup_restore_duration_seconds"
	// TableRestores counts CassandraRestores by namespace and state (gauge).
	TableRestores = "cassandra_backup_table_restores"
	// TableRestoreDuration is the histogram of CassandraRestore durations (start to end) by
	// namespace and result; its _count is the number of restores that ended.
	TableRestoreDuration = "cassandra_backup_table_restore_duration_seconds"
	// TableRestoreSize is the histogram of the bytes ended CassandraRestores restored (all
	// nodes) by namespace and result.
	TableRestoreSize = "cassandra_backup_table_restore_size_bytes"
)
