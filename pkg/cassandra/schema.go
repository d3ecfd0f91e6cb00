package cassandra

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// ColumnKind is the role of a column in its table.
type ColumnKind string

// Column kinds, as system_schema.columns names them.
const (
	PartitionKey ColumnKind = "partition_key"
	Clustering   ColumnKind = "clustering"
	Regular      ColumnKind = "regular"
	Static       ColumnKind = "static"
)

// Column is one column of a table as an import needs it to match.
type Column struct {
	// Type is the CQL type, lower case and without spaces (quoted names keep their case).
	Type string
	// Kind is the column's role.
	Kind ColumnKind
	// Position orders the partition key and clustering columns (0 for the others).
	Position int
	// Order is ASC or DESC for a clustering column.
	Order string
}

// TableSchema is what of a table's CREATE statement decides whether SSTables written under
// one schema load into another: the columns and the dropped columns. Options (compaction,
// compression, caching…) do not, and formatting does not.
type TableSchema struct {
	// Keyspace and Name name the table.
	Keyspace, Name string
	// Columns are keyed by column name.
	Columns map[string]Column
	// Dropped are the columns dropped (and not added again), by name.
	Dropped map[string]bool
}

// ParseTableSchema reads the schema.cql Cassandra writes into a snapshot: CREATE TYPE
// statements (skipped), the table's CREATE TABLE, then the ALTER TABLE … DROP and ADD
// statements that record dropped columns, then CREATE INDEX statements (skipped).
func ParseTableSchema(cql string) (TableSchema, error) {
	toks, err := lexCQL(cql)
	if err != nil {
		return TableSchema{}, err
	}
	s := TableSchema{Columns: map[string]Column{}, Dropped: map[string]bool{}}
	created := false
	for _, st := range splitStatements(toks) {
		switch {
		case st.is(0, "create") && st.is(1, "table"):
			if created {
				return s, fmt.Errorf("schema: more than one CREATE TABLE")
			}
			if err := s.parseCreate(st); err != nil {
				return s, err
			}
			created = true
		case created && st.is(0, "alter") && st.is(1, "table"):
			if err := s.parseAlter(st); err != nil {
				return s, err
			}
		}
	}
	if !created {
		return s, fmt.Errorf("schema: no CREATE TABLE statement")
	}
	return s, nil
}

// Diff returns the first difference between s (the backup's schema) and live (the node's)
// that matters to an import, or "" when there is none.
func (s TableSchema) Diff(live TableSchema) string {
	for _, name := range slices.Sorted(mapKeys(s.Columns)) {
		b := s.Columns[name]
		l, ok := live.Columns[name]
		switch {
		case !ok && live.Dropped[name]:
			return fmt.Sprintf("column %s (%s) of the backup was dropped on the node", name, b.Type)
		case !ok:
			return fmt.Sprintf("column %s (%s) of the backup is not on the node", name, b.Type)
		case b.Type != l.Type:
			return fmt.Sprintf("column %s is %s in the backup, %s on the node", name, b.Type, l.Type)
		case b.Kind != l.Kind:
			return fmt.Sprintf("column %s is a %s column in the backup, a %s column on the node", name, b.Kind, l.Kind)
		case b.Position != l.Position:
			return fmt.Sprintf("%s column %s is at position %d in the backup, %d on the node", b.Kind, name, b.Position, l.Position)
		case b.Order != l.Order:
			return fmt.Sprintf("clustering column %s is ordered %s in the backup, %s on the node", name, b.Order, l.Order)
		}
	}
	for _, name := range slices.Sorted(mapKeys(live.Columns)) {
		if _, ok := s.Columns[name]; !ok {
			return fmt.Sprintf("column %s (%s) on the node is not in the backup", name, live.Columns[name].Type)
		}
	}
	for _, name := range slices.Sorted(mapKeys(s.Dropped)) {
		if !live.Dropped[name] {
			return fmt.Sprintf("column %s was dropped in the backup's table, not on the node's", name)
		}
	}
	return ""
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// token is a CQL token: an identifier or keyword (word; quoted when it was a quoted
// identifier), a string or a punctuation character.
type token struct {
	text   string
	quoted bool
	str    bool
}

// statement is one CQL statement's tokens.
type statement []token

// is reports whether the i-th token is the keyword kw.
func (st statement) is(i int, kw string) bool {
	return i < len(st) && !st[i].quoted && !st[i].str && strings.EqualFold(st[i].text, kw)
}

// name returns the i-th token as an identifier: a quoted one as written, else lower case.
func (st statement) name(i int) string {
	if i >= len(st) {
		return ""
	}
	if st[i].quoted {
		return st[i].text
	}
	return strings.ToLower(st[i].text)
}

// lexCQL splits CQL text into tokens; comments are dropped.
func lexCQL(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case strings.HasPrefix(s[i:], "--") || strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("schema: unterminated comment")
			}
			i += end + 4
		case c == '"' || c == '\'':
			text, n, err := quoted(s[i:], c)
			if err != nil {
				return nil, err
			}
			out = append(out, token{text: text, quoted: c == '"', str: c == '\''})
			i += n
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			out = append(out, token{text: string(c)})
			i++
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c == '+' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// quoted reads a quoted identifier or string starting at s[0] (the quote q, doubled to
// escape it) and returns its text and length.
func quoted(s string, q byte) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != q {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == q {
			b.WriteByte(q)
			i++
			continue
		}
		return b.String(), i + 1, nil
	}
	return "", 0, fmt.Errorf("schema: unterminated %c", q)
}

// splitStatements cuts tokens at the semicolons.
func splitStatements(toks []token) []statement {
	var out []statement
	var cur statement
	for _, t := range toks {
		if !t.quoted && !t.str && t.text == ";" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
