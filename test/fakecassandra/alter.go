package fakecassandra

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// defaultColumns are the columns of a table the fake creates.
var defaultColumns = []string{"id uuid PRIMARY KEY", "value blob"}

// AlterTable changes a table's columns as ALTER TABLE does, keeping its id: "ADD <column>
// <type>" or "DROP <column>". The table's schema.cql in later snapshots says so the way
// Cassandra writes it: a dropped column stays in the CREATE statement and an ALTER TABLE …
// DROP … USING TIMESTAMP follows; a column added again after a drop gets an ALTER TABLE … ADD.
func (n *Node) AlterTable(keyspace, name, change string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.tables[keyspace+"."+name]
	if !ok {
		return fmt.Errorf("unknown table %s.%s", keyspace, name)
	}
	op, col, _ := strings.Cut(strings.TrimSpace(change), " ")
	colName, _, _ := strings.Cut(col, " ")
	if t.columns == nil {
		t.columns = slices.Clone(defaultColumns)
	}
	n.clock = n.clock.Add(time.Millisecond)
	switch strings.ToUpper(op) {
	case "ADD":
		if slices.ContainsFunc(t.columns, func(c string) bool { return strings.HasPrefix(c, colName+" ") }) {
			t.alters = append(t.alters, fmt.Sprintf("ALTER TABLE %s.%s ADD %s;", keyspace, name, col))
			return nil
		}
		t.columns = append(t.columns, col)
	case "DROP":
		t.alters = append(t.alters, fmt.Sprintf("ALTER TABLE %s.%s DROP %s USING TIMESTAMP %d;", keyspace, name, colName, n.clock.UnixMicro()))
	default:
		return fmt.Errorf("alter table: %q is neither ADD nor DROP", change)
	}
	return nil
}

// columnsOf returns the column definitions of t's CREATE statement.
func columnsOf(t *table) []string {
	if t.columns == nil {
		return defaultColumns
	}
	return t.columns
}
