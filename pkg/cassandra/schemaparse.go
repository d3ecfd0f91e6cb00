package cassandra

import (
	"fmt"
	"strings"
)

// punct reports whether t is the punctuation p (not inside quotes).
func (t token) punct(p string) bool { return !t.quoted && !t.str && t.text == p }

// parseCreate reads CREATE TABLE [IF NOT EXISTS] ks.t (defs) [WITH …].
func (s *TableSchema) parseCreate(st statement) error {
	i := 2
	if st.is(i, "if") && st.is(i+1, "not") && st.is(i+2, "exists") {
		i += 3
	}
	var name strings.Builder
	for ; i < len(st) && !st[i].punct("("); i++ {
		name.WriteString(st.name(i))
	}
	s.Keyspace, s.Name, _ = strings.Cut(name.String(), ".")
	defs, rest, err := group(st, i)
	if err != nil {
		return fmt.Errorf("schema of %s: %w", name.String(), err)
	}
	var key statement
	for _, d := range splitTop(defs) {
		if d.is(0, "primary") && d.is(1, "key") {
			key = d[2:]
			continue
		}
		c, pk, err := column(d)
		if err != nil {
			return fmt.Errorf("schema of %s: %w", name.String(), err)
		}
		s.Columns[d.name(0)] = c
		if pk {
			key = statement{{text: "("}, d[0], {text: ")"}}
		}
	}
	if key == nil {
		return fmt.Errorf("schema of %s: no PRIMARY KEY", name.String())
	}
	if err := s.primaryKey(key); err != nil {
		return fmt.Errorf("schema of %s: %w", name.String(), err)
	}
	return s.clusteringOrder(rest)
}

// column reads one column definition: name type [STATIC] [PRIMARY KEY].
func column(d statement) (Column, bool, error) {
	if len(d) < 2 {
		return Column{}, false, fmt.Errorf("column definition %q", d.name(0))
	}
	c := Column{Kind: Regular}
	var typ strings.Builder
	pk := false
	for i := 1; i < len(d); i++ {
		switch {
		case d.is(i, "static"):
			c.Kind = Static
		case d.is(i, "primary") && d.is(i+1, "key"):
			pk = true
			i++
		default:
			typ.WriteString(d.name(i))
		}
	}
	c.Type = typ.String()
	return c, pk, nil
}

// primaryKey reads the PRIMARY KEY's parenthesised list: the partition key (a name or a
// parenthesised list), then the clustering columns.
func (s *TableSchema) primaryKey(key statement) error {
	inner, _, err := group(key, 0)
	if err != nil {
		return fmt.Errorf("PRIMARY KEY: %w", err)
	}
	parts := splitTop(inner)
	if len(parts) == 0 {
		return fmt.Errorf("empty PRIMARY KEY")
	}
	partition := parts[0]
	if partition[0].punct("(") {
		in, _, err := group(partition, 0)
		if err != nil {
			return fmt.Errorf("PRIMARY KEY: %w", err)
		}
		partition = nil
		for _, p := range splitTop(in) {
			partition = append(partition, p[0])
		}
	}
	set := func(name string, kind ColumnKind, pos int) error {
		c, ok := s.Columns[name]
		if !ok {
			return fmt.Errorf("PRIMARY KEY names an unknown column %s", name)
		}
		c.Kind, c.Position = kind, pos
		if kind == Clustering {
			c.Order = "ASC"
		}
		s.Columns[name] = c
		return nil
	}
	for i := range partition {
		if err := set(partition.name(i), PartitionKey, i); err != nil {
			return err
		}
	}
	for i, p := range parts[1:] {
		if err := set(p.name(0), Clustering, i); err != nil {
			return err
		}
	}
	return nil
}

// clusteringOrder reads WITH … CLUSTERING ORDER BY (c ASC|DESC, …) from the tokens after
// the column definitions.
func (s *TableSchema) clusteringOrder(rest statement) error {
	for i := range rest {
		if !rest.is(i, "clustering") || !rest.is(i+1, "order") || !rest.is(i+2, "by") {
			continue
		}
		in, _, err := group(rest, i+3)
		if err != nil {
			return fmt.Errorf("CLUSTERING ORDER BY: %w", err)
		}
		for _, p := range splitTop(in) {
			c, ok := s.Columns[p.name(0)]
			if !ok || c.Kind != Clustering {
				return fmt.Errorf("CLUSTERING ORDER BY names %s, not a clustering column", p.name(0))
			}
			if p.is(1, "desc") {
				c.Order = "DESC"
			}
			s.Columns[p.name(0)] = c
		}
		return nil
	}
	return nil
}

// parseAlter applies ALTER TABLE t DROP c [USING TIMESTAMP n] and ALTER TABLE t ADD c type.
func (s *TableSchema) parseAlter(st statement) error {
	i := 2
	for i < len(st) && !st.is(i, "drop") && !st.is(i, "add") {
		i++
	}
	if i+1 >= len(st) {
		return nil
	}
	defs := []statement{st[i+1:]}
	if st[i+1].punct("(") {
		in, _, err := group(st, i+1)
		if err != nil {
			return fmt.Errorf("ALTER TABLE: %w", err)
		}
		defs = splitTop(in)
	}
	for _, d := range defs {
		name := d.name(0)
		if st.is(i, "drop") {
			delete(s.Columns, name)
			s.Dropped[name] = true
			continue
		}
		c, _, err := column(d)
		if err != nil {
			return fmt.Errorf("ALTER TABLE: %w", err)
		}
		s.Columns[name] = c
		delete(s.Dropped, name)
	}
	return nil
}

// group returns the tokens inside the parenthesis that opens at st[i], and those after
// its closing one.
func group(st statement, i int) (inner, rest statement, err error) {
	if i >= len(st) || !st[i].punct("(") {
		return nil, nil, fmt.Errorf("expected (")
	}
	depth := 0
	for j := i; j < len(st); j++ {
		switch {
		case st[j].punct("("):
			depth++
		case st[j].punct(")"):
			depth--
			if depth == 0 {
				return st[i+1 : j], st[j+1:], nil
			}
		}
	}
	return nil, nil, fmt.Errorf("unbalanced parentheses")
}

// splitTop cuts tokens at the commas outside parentheses and angle brackets.
func splitTop(st statement) []statement {
	var out []statement
	depth, start := 0, 0
	for j, t := range st {
		switch {
		case t.punct("(") || t.punct("<"):
			depth++
		case t.punct(")") || t.punct(">"):
			depth--
		case t.punct(",") && depth == 0:
			out = append(out, st[start:j])
			start = j + 1
		}
	}
	if start < len(st) {
		out = append(out, st[start:])
	}
	return out
}
