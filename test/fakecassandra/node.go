// Package fakecassandra is a stand-in Cassandra node for tests: it speaks the Jolokia subset
// that pkg/cassandra uses, over HTTP on 127.0.0.1, on a real data directory laid out the way
// Cassandra lays it out.
package fakecassandra

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/mgmtapi"
)

// Config describes a fake node. Its zero value, with DataDirs set, is a usable node.
type Config struct {
	// DataDirs are the node's data directories; New uses a temporary directory when empty.
	DataDirs []string
	// ClusterName is the cluster name; default "test-cluster".
	ClusterName string
	// Datacenter is the node's datacenter; default "dc1".
	Datacenter string
	// Rack is the node's rack; default "rack1".
	Rack string
	// NumTokens is the number of vnode tokens; default 16.
	NumTokens int
	// Tokens, when set, are the node's tokens (like initial_token) instead of random ones.
	Tokens []string
	// HostID, when set, is the node's host id instead of one derived from Seed.
	HostID string
	// Seed makes tokens, ids and written data deterministic.
	Seed uint64
	// SchemaSeed, when set, derives table ids from it instead of Seed: the nodes of one
	// cluster share their tables' ids, as real nodes share a schema.
	SchemaSeed uint64
	// Release is the Cassandra release the node reports (ReleaseVersion); default "4.1.8".
	// A 3.x release behaves like Cassandra 3: no importNewSSTables, SSTables that appear in a table directory stay unloaded until
	// loadNewSSTables, component sets without Data.db are removed at start, and flushes
	// write version "mc".
	Release string
	// Version is the SSTable version written by flushes; default "nb" ("mc" on a 3.x release).
	Version string
	// Format is the SSTable format, "big" (default) or "bti".
	Format string
	// UUIDGenerations makes flushes use time-UUID generations (uuid_sstable_identifiers_enabled).
	UUIDGenerations bool
	// Compressed makes flushes write compressed SSTables (CompressionInfo.db, a CRC32 after
	// each chunk of Data.db); uncompressed ones (CRC.db) when false.
	Compressed bool
	// ChunkLength is the chunk length of Data.db's checksums; Cassandra's defaults when 0
	// (64 KiB uncompressed, 16 KiB compressed).
	ChunkLength int
	// NoSystemTables skips creating the system keyspaces on a fresh data directory.
	NoSystemTables bool
	// ManagementAPI makes the node a cass-operator one, controlled through the Management API
	// (served on the same listener as Jolokia, under /api/): SSTables that appear in a table
	// directory stay unloaded until a refresh, as on a 3.x release.
	ManagementAPI bool
	// Listen is the address Jolokia listens on; "127.0.0.1:0" (a free loopback port)
	// when empty. A pod's node listens on the pod's own 127.0.0.1:8778.
	Listen string
}

// Hook sees every Jolokia request before the node handles it; a non-nil error fails the
// request the way a Java exception does.
type Hook func(req jolokia.Request) error

// Node is a running fake Cassandra node.
type Node struct {
	cfg Config
	srv *http.Server
	ln  net.Listener
	// serving counts the requests being handled: Close waits for them, so that a
	// snapshot a cancelled client asked for is not still linking files into a data
	// directory its test is removing.
	serving atomic.Int64
	hostID  string
	tokens  []string

	mu     sync.Mutex
	tables map[string]*table // keyed by ks.table
	clock  time.Time
	calls  map[string]int
	agents map[string]int // Jolokia HTTP requests by User-Agent
	hook   Hook
	repl   map[string]cassandra.Replication // keyspace replication set (replication.go)
}

type table struct {
	ks, name, id string
	indexes      []string
	mem          bytes.Buffer
	writes       int
	nextGen      int
	// columns are the column definitions after AlterTable (nil: defaultColumns); alters
	// are the ALTER TABLE statements that follow the CREATE in schema.cql.
	columns, alters []string
	// live holds the loaded SSTables (index directory + name) on a 3.x release; nil means
	// every SSTable on disk is live.
	live map[string]bool
}

// systemTables are created on a fresh data directory, with Cassandra's fixed table ids.
var systemTables = []struct{ ks, name, id string }{
	{"system_schema", "keyspaces", "abac5682dea631c5b535b3d6cffd0fb6"},
	{"system_schema", "tables", "afddfb9dbc1e30688056eed6c302ba09"},
	{"system_schema", "columns", "24101c25a2ae3af787c1b40ee1aca33f"},
	{"system", "local", "7ad54392bcdd35a684174e047860b377"},
	{"system", "peers_v2", "c4325fbb8e5e3bafbd070f9250ed818e"},
}

// New starts a node for a test and stops it when the test ends.
func New(tb testing.TB, cfg Config) *Node {
	tb.Helper()
	if len(cfg.DataDirs) == 0 {
		cfg.DataDirs = []string{tb.TempDir()}
	}
	n, err := Start(cfg)
	if err != nil {
		tb.Fatalf("start fake cassandra: %v", err)
	}
	tb.Cleanup(func() { n.Close() })
	return n
}

// Start starts a node listening on cfg.Listen (127.0.0.1). Tables already in the data directories are
// loaded, so a node restarted on the same directories keeps its data.
func Start(cfg Config) (*Node, error) {
	if len(cfg.DataDirs) == 0 {
		return nil, errors.New("fake cassandra: no data directories")
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "test-cluster"
	}
	if cfg.Datacenter == "" {
		cfg.Datacenter = "dc1"
	}
	if cfg.Rack == "" {
		cfg.Rack = "rack1"
	}
	if cfg.NumTokens == 0 {
		cfg.NumTokens = 16
	}
	if cfg.Release == "" {
		cfg.Release = "4.1.8"
	}
	major, err := cassandra.MajorVersion(cfg.Release)
	if err != nil || major < 3 {
		return nil, fmt.Errorf("fake cassandra: release %q is not 3.x or later", cfg.Release)
	}
	if cfg.Version == "" {
		cfg.Version = "nb"
		if major == 3 {
			cfg.Version = "mc"
		}
	}
	if cfg.Format == "" {
		cfg.Format = "big"
	}
	if cfg.Format != "big" && cfg.Format != "bti" {
		return nil, fmt.Errorf("fake cassandra: format %q is not big or bti", cfg.Format)
	}
	if major == 3 && (cfg.Format != "big" || cfg.UUIDGenerations) {
		return nil, fmt.Errorf("fake cassandra: Cassandra %s writes big SSTables with numeric generations", cfg.Release)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	n := &Node{
		cfg:    cfg,
		tables: map[string]*table{},
		clock:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		calls:  map[string]int{},
	}
	n.hostID = cfg.HostID
	if n.hostID == "" {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], rng.Uint64())
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		n.hostID = uuid.UUID(b).String()
	}
	n.tokens = append([]string(nil), cfg.Tokens...)
	if len(n.tokens) == 0 {
		ts := make([]int64, cfg.NumTokens)
		for i := range ts {
			ts[i] = int64(rng.Uint64())
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		for _, t := range ts {
			n.tokens = append(n.tokens, strconv.FormatInt(t, 10))
		}
	}
	for _, d := range cfg.DataDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("fake cassandra: %w", err)
		}
	}
	if err := n.load(); err != nil {
		return nil, err
	}
	if len(n.tables) == 0 && !cfg.NoSystemTables {
		for _, st := range systemTables {
			t, err := n.createTable(st.ks, st.name, st.id)
			if err != nil {
				return nil, err
			}
			n.write(t, 512)
		}
		if err := n.flush(nil); err != nil {
			return nil, err
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("fake cassandra: %w", err)
	}
	n.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/jolokia", n.serveJolokia)
	mux.HandleFunc("/jolokia/", n.serveJolokia)
	n.mgmtRoutes(mux)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.serving.Add(1)
		defer n.serving.Add(-1)
		mux.ServeHTTP(w, r)
	})
	n.srv = &http.Server{Handler: counted, ReadHeaderTimeout: 10 * time.Second}
	go n.srv.Serve(ln)
	return n, nil
}

// load registers the tables found in the data directories.
func (n *Node) load() error {
	tables, err := cassandra.Tables(n.cfg.DataDirs)
	if err != nil {
		return fmt.Errorf("fake cassandra: %w", err)
	}
	for _, t := range tables {
		tb := &table{ks: t.Keyspace, name: t.Name, id: t.ID, nextGen: 1}
		if n.tracksLoads() {
			tb.live = map[string]bool{}
		}
		for _, dir := range t.Dirs {
			if tb.live != nil {
				if err := scrubOrphans(dir, tb.live); err != nil {
					return err
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				return fmt.Errorf("fake cassandra: %w", err)
			}
			for _, e := range entries {
				if e.IsDir() && strings.HasPrefix(e.Name(), ".") && !contains(tb.indexes, e.Name()[1:]) {
					tb.indexes = append(tb.indexes, e.Name()[1:])
				}
				if d, err := cassandra.ParseDescriptor(e.Name()); err == nil && !d.UUIDGeneration() {
					if g, _ := strconv.Atoi(d.Generation); g >= tb.nextGen {
						tb.nextGen = g + 1
					}
				}
			}
		}
		n.tables[t.Keyspace+"."+t.Name] = tb
	}
	return nil
}

// scrubOrphans removes the component sets without Data.db in dir and its index directories,
// as Cassandra 3.x does at start, and marks the other SSTables live.
func scrubOrphans(dir string, live map[string]bool) error {
	dirs := []string{dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("fake cassandra: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(dir, e.Name()))
		}
	}
	for _, d := range dirs {
		index := ""
		if d != dir {
			index = filepath.Base(d)
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("fake cassandra: %w", err)
		}
		sets := map[string][]string{}
		for _, e := range entries {
			if desc, err := cassandra.ParseDescriptor(e.Name()); err == nil && e.Type().IsRegular() {
				sets[desc.SSTable()] = append(sets[desc.SSTable()], e.Name())
			}
		}
		for name, files := range sets {
			if fi, err := os.Stat(filepath.Join(d, name+"-Data.db")); err == nil && fi.Size() > 0 {
				live[index+name] = true
				continue
			}
			for _, f := range files {
				if err := os.Remove(filepath.Join(d, f)); err != nil {
					return fmt.Errorf("fake cassandra: %w", err)
				}
			}
		}
	}
	return nil
}

// tracksLoads reports whether SSTables that appear in a table directory stay unloaded until
// a refresh: on a 3.x release, and on a node controlled through the Management API (whose
// restores into a running node place files and refresh).
func (n *Node) tracksLoads() bool { return n.legacy() || n.cfg.ManagementAPI }

// legacy reports whether the node plays a Cassandra 3.x release.
func (n *Node) legacy() bool {
	major, _ := cassandra.MajorVersion(n.cfg.Release)
	return major == 3
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// URL returns the Jolokia endpoint, e.g. http://127.0.0.1:41234/jolokia/.
func (n *Node) URL() string { return "http://" + n.ln.Addr().String() + "/jolokia/" }

// Client returns a pkg/cassandra client for the node.
func (n *Node) Client() *jolokia.Client { return &jolokia.Client{URL: n.URL()} }

// ManagementAPIURL returns the base URL of the node's Management API, e.g. http://127.0.0.1:41234.
func (n *Node) ManagementAPIURL() string { return "http://" + n.ln.Addr().String() }

// ManagementAPIClient returns a pkg/cassandra client for the node through its Management API.
func (n *Node) ManagementAPIClient() *mgmtapi.Client {
	return &mgmtapi.Client{URL: n.ManagementAPIURL(), DataDirectories: n.DataDirs()}
}

// Close stops the node's HTTP server and waits (up to closeWait) for the requests it is
// handling (http.Server.Close does not wait for handlers); the data directory stays.
func (n *Node) Close() error {
	err := n.srv.Close()
	for deadline := time.Now().Add(closeWait); n.serving.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return err
}

// closeWait bounds how long Close waits for requests in flight (a test's hook may hold
// one forever).
const closeWait = 10 * time.Second

// DataDirs returns the node's data directories.
func (n *Node) DataDirs() []string { return append([]string(nil), n.cfg.DataDirs...) }

// HostID returns the node's host id.
func (n *Node) HostID() string { return n.hostID }

// Tokens returns the node's tokens.
func (n *Node) Tokens() []string { return append([]string(nil), n.tokens...) }

// ClusterName returns the node's cluster name.
func (n *Node) ClusterName() string { return n.cfg.ClusterName }

// Datacenter returns the node's datacenter.
func (n *Node) Datacenter() string { return n.cfg.Datacenter }

// Rack returns the node's rack.
func (n *Node) Rack() string { return n.cfg.Rack }

// SetHook installs a hook that sees every Jolokia request (nil removes it).
func (n *Node) SetHook(h Hook) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hook = h
}

// Calls returns how many requests named op (an operation without signature, or an attribute) were handled.
func (n *Node) Calls(op string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[op]
}

// Callers returns how many Jolokia HTTP requests each User-Agent sent: a test that gives
// the agent's Jolokia client its own User-Agent sees any other caller here.
func (n *Node) Callers() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]int, len(n.agents))
	for k, v := range n.agents {
		out[k] = v
	}
	return out
}

// SchemaVersion returns the schema version: a name-based UUID of the schema, like Cassandra's.
func (n *Node) SchemaVersion() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.schemaVersion()
}

func (n *Node) schemaVersion() string {
	keys := make([]string, 0, len(n.tables))
	for k, t := range n.tables {
		keys = append(keys, k+"-"+t.id+"-"+strings.Join(t.indexes, ","))
	}
	sort.Strings(keys)
	return uuid.NewMD5(uuid.Nil, []byte(strings.Join(keys, "\n"))).String()
}

// CreateTable creates keyspace.name (and the keyspace) with an id derived from the seed, and
// returns it; creating an existing table returns it unchanged.
func (n *Node) CreateTable(keyspace, name string) (cassandra.Table, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	sum := md5.Sum([]byte(fmt.Sprintf("%d/%s/%s", cmp.Or(n.cfg.SchemaSeed, n.cfg.Seed), keyspace, name)))
	t, err := n.createTable(keyspace, name, hex.EncodeToString(sum[:]))
	if err != nil {
		return cassandra.Table{}, err
	}
	return n.tableInfo(t), nil
}

func (n *Node) tableInfo(t *table) cassandra.Table {
	ct := cassandra.Table{Keyspace: t.ks, Name: t.name, ID: t.id}
	for _, d := range n.cfg.DataDirs {
		ct.Dirs = append(ct.Dirs, filepath.Join(d, t.ks, cassandra.TableDirName(t.name, t.id)))
	}
	return ct
}

func (n *Node) createTable(ks, name, id string) (*table, error) {
	if t, ok := n.tables[ks+"."+name]; ok {
		return t, nil
	}
	if _, err := cassandra.ParseEntities(ks + "." + name); err != nil {
		return nil, fmt.Errorf("create table: %w", err)
	}
	t := &table{ks: ks, name: name, id: id, nextGen: 1}
	if n.tracksLoads() {
		t.live = map[string]bool{}
	}
	for _, d := range n.tableInfo(t).Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create table: %w", err)
		}
	}
	n.tables[ks+"."+name] = t
	return t, nil
}

// CreateIndex adds a secondary index to a table; its SSTables go to the table's ".<index>" directory.
func (n *Node) CreateIndex(keyspace, tableName, index string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.tables[keyspace+"."+tableName]
	if !ok {
		return fmt.Errorf("create index: unknown table %s.%s", keyspace, tableName)
	}
	if _, err := cassandra.ParseEntities(index); err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	if contains(t.indexes, index) {
		return nil
	}
	t.indexes = append(t.indexes, index)
	for _, d := range n.tableInfo(t).Dirs {
		if err := os.MkdirAll(filepath.Join(d, "."+index), 0o755); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	return nil
}

// Table returns a table of the node.
func (n *Node) Table(keyspace, name string) (cassandra.Table, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.tables[keyspace+"."+name]
	if !ok {
		return cassandra.Table{}, false
	}
	return n.tableInfo(t), true
}

// Write adds size deterministic bytes to a table's memtable, creating the table if needed.
// The bytes depend only on the seed, the table and the number of earlier writes to it.
func (n *Node) Write(keyspace, name string, size int) error {
	if _, err := n.CreateTable(keyspace, name); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.write(n.tables[keyspace+"."+name], size)
	return nil
}

func (n *Node) write(t *table, size int) {
	seed := md5.Sum([]byte(fmt.Sprintf("%d/%s/%s/%d", n.cfg.Seed, t.ks, t.name, t.writes)))
	t.writes++
	t.mem.Write(Bytes(binary.BigEndian.Uint64(seed[:8]), size))
}

// Bytes returns n bytes generated from seed.
func Bytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:n]
}

// WriteSSTable writes size bytes to a table and flushes it, creating one new SSTable.
func (n *Node) WriteSSTable(keyspace, name string, size int) error {
	if err := n.Write(keyspace, name, size); err != nil {
		return err
	}
	return n.Flush(keyspace, name)
}

// Flush writes the memtables of a keyspace's tables (the named ones, or all) to new SSTables.
func (n *Node) Flush(keyspace string, tables ...string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	sel, err := n.selectTables(keyspaceEntity(keyspace, tables))
	if err != nil {
		return err
	}
	return n.flush(sel)
}

func keyspaceEntity(ks string, tables []string) []string {
	if len(tables) == 0 {
		return []string{ks}
	}
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = ks + "." + t
	}
	return out
}

// selectTables resolves entities ("ks" or "ks.table"); none selects every table.
func (n *Node) selectTables(entities []string) ([]*table, error) {
	var sel []*table
	seen := map[*table]bool{}
	add := func(t *table) {
		if !seen[t] {
			seen[t] = true
			sel = append(sel, t)
		}
	}
	if len(entities) == 0 {
		for _, t := range n.tables {
			add(t)
		}
	}
	for _, e := range entities {
		ks, tn, hasTable := strings.Cut(e, ".")
		found := false
		for _, t := range n.tables {
			if t.ks == ks && (!hasTable || t.name == tn) {
				add(t)
				found = true
			}
		}
		if !found {
			if hasTable {
				return nil, &javaError{"java.lang.IllegalArgumentException", fmt.Sprintf("Unknown keyspace/cf pair (%s.%s)", ks, tn)}
			}
			return nil, &javaError{"java.lang.IllegalArgumentException", fmt.Sprintf("Keyspace %s does not exist", ks)}
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].ks+"."+sel[i].name < sel[j].ks+"."+sel[j].name })
	return sel, nil
}

// flush writes the memtables of tables (all when nil) as new SSTables.
func (n *Node) flush(tables []*table) error {
	if tables == nil {
		for _, t := range n.tables {
			tables = append(tables, t)
		}
		sort.Slice(tables, func(i, j int) bool { return tables[i].ks+"."+tables[i].name < tables[j].ks+"."+tables[j].name })
	}
	for _, t := range tables {
		if t.mem.Len() == 0 {
			continue
		}
		gen := n.generation(t)
		dir := n.tableInfo(t).Dirs[t.nextGen%len(n.cfg.DataDirs)]
		t.nextGen++
		data := t.mem.Bytes()
		if err := n.writeSSTable(dir, gen, data); err != nil {
			return err
		}
		if err := n.writeIndexes(t, dir, gen, data); err != nil {
			return err
		}
		t.markLive("", n.cfg.Version+"-"+gen+"-"+n.cfg.Format)
		t.mem = bytes.Buffer{} // not Reset: a large flush does not stay in memory
	}
	return nil
}

// writeIndexes writes the index SSTables of generation gen whose base Data.db holds data.
func (n *Node) writeIndexes(t *table, dir, gen string, data []byte) error {
	for _, idx := range t.indexes {
		if err := n.writeSSTable(filepath.Join(dir, "."+idx), gen, data[:len(data)/8]); err != nil {
			return err
		}
		t.markLive("."+idx, n.cfg.Version+"-"+gen+"-"+n.cfg.Format)
	}
	return nil
}

// markLive records a loaded SSTable on a node that tracks loads.
func (t *table) markLive(index, name string) {
	if t.live != nil {
		t.live[index+name] = true
	}
}

// isLive reports whether an SSTable of t is loaded.
func (t *table) isLive(index, name string) bool {
	return t.live == nil || t.live[index+name]
}

// generation returns the next generation of t: a number, or a time-UUID in Cassandra's base36 form.
func (n *Node) generation(t *table) string {
	if !n.cfg.UUIDGenerations {
		return strconv.Itoa(t.nextGen)
	}
	n.clock = n.clock.Add(time.Millisecond)
	// 100 ns intervals since the UUID epoch, 1582-10-15.
	// (time.Time.Sub saturates over such spans, so count from the Unix epoch and add the offset.)
	ticks := uint64(n.clock.UnixNano()/100) + unixToUUIDEpochTicks
	seconds, decimicros := ticks/10_000_000, ticks%10_000_000
	days, secs := seconds/86400, seconds%86400
	sum := md5.Sum([]byte(fmt.Sprintf("%d/%s/%s/%d", n.cfg.Seed, t.ks, t.name, t.nextGen)))
	lsb := binary.BigEndian.Uint64(sum[8:])
	return base36(days, 4) + "_" + base36(secs, 4) + "_" + base36(decimicros, 5) + base36(lsb, 13)
}

// unixToUUIDEpochTicks is the number of 100 ns intervals from 1582-10-15 to 1970-01-01.
const unixToUUIDEpochTicks = 0x01b21dd213814000

func base36(v uint64, width int) string {
	s := strconv.FormatUint(v, 36)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// component is one file of an SSTable being written.
type component struct {
	name    string
	content []byte
}

// writeSSTable writes the component set of one SSTable whose Data.db holds data.
func (n *Node) writeSSTable(dir, gen string, data []byte) error {
	prefix := n.cfg.Version + "-" + gen + "-" + n.cfg.Format + "-"
	seed := uint64(crc32.ChecksumIEEE(data))<<32 | uint64(len(data))
	file, checksums := n.dataFile(data)
	components := []component{
		{"Data.db", file},
		{"Filter.db", Bytes(seed+1, 24)},
		{"Statistics.db", Bytes(seed+2, 80)},
		checksums,
		{"Digest.crc32", []byte(strconv.FormatUint(uint64(crc32.ChecksumIEEE(file)), 10))},
	}
	if n.cfg.Format == "big" {
		components = append(components, component{"Index.db", Bytes(seed+4, 16+len(data)/20)}, component{"Summary.db", Bytes(seed+5, 32)})
	} else {
		components = append(components, component{"Partitions.db", Bytes(seed+4, 16+len(data)/20)}, component{"Rows.db", Bytes(seed+5, 16+len(data)/40)})
	}
	var toc []string
	for _, c := range components {
		toc = append(toc, c.name)
	}
	toc = append(toc, "TOC.txt")
	sort.Strings(toc)
	components = append(components, component{"TOC.txt", []byte(strings.Join(toc, "\n") + "\n")})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	for _, c := range components {
		if err := os.WriteFile(filepath.Join(dir, prefix+c.name), c.content, 0o644); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
	}
	return nil
}

// SSTables returns the live SSTables of a table (snapshots excluded; on a 3.x release,
// SSTables not loaded yet excluded).
func (n *Node) SSTables(keyspace, name string) ([]cassandra.SSTable, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.tables[keyspace+"."+name]
	if !ok {
		return nil, fmt.Errorf("unknown table %s.%s", keyspace, name)
	}
	var out []cassandra.SSTable
	for _, d := range n.tableInfo(t).Dirs {
		ss, err := cassandra.ReadSSTables(d)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if t.isLive(s.Index, s.Name) {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// LiveData returns the Data.db contents of a table's live SSTables (secondary-index
// SSTables excluded), as a set: what the table holds, whatever the generations. Two live
// SSTables with one generation are an error.
func (n *Node) LiveData(keyspace, name string) (map[string]bool, error) {
	ss, err := n.SSTables(keyspace, name)
	if err != nil {
		return nil, err
	}
	out, gens := map[string]bool{}, map[string]bool{}
	for _, s := range ss {
		if s.Index != "" {
			continue
		}
		if gens[s.Generation] {
			return nil, fmt.Errorf("%s.%s: generation %s used twice", keyspace, name, s.Generation)
		}
		gens[s.Generation] = true
		b, err := os.ReadFile(filepath.Join(s.Dir, s.Name+"-Data.db"))
		if err != nil {
			return nil, err
		}
		out[string(b)] = true
	}
	return out, nil
}

// DataFiles returns the SSTable files of the live tables in dataDirs that keep selects,
// by path relative to their data directory (keyspace/table-id[/.index]/file) → content:
// what a byte-identical restore must reproduce. Snapshots are not included.
func DataFiles(dataDirs []string, keep func(keyspace, table string) bool) (map[string][]byte, error) {
	tables, err := cassandra.Tables(dataDirs)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, tb := range tables {
		if !keep(tb.Keyspace, tb.Name) {
			continue
		}
		for _, d := range tb.Dirs {
			ss, err := cassandra.ReadSSTables(d)
			if err != nil {
				return nil, err
			}
			for _, s := range ss {
				for _, f := range s.Files {
					b, err := os.ReadFile(f.Path)
					if err != nil {
						return nil, err
					}
					out[filepath.Join(tb.Keyspace, tb.DirName(), s.Index, f.Name)] = b
				}
			}
		}
	}
	return out, nil
}

// SnapshotExists reports whether any table holds snapshot tag.
func (n *Node) SnapshotExists(tag string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.tables {
		for _, d := range n.tableInfo(t).Dirs {
			if _, err := os.Stat(filepath.Join(d, cassandra.SnapshotsDir, tag)); err == nil {
				return true
			}
		}
	}
	return false
}

// javaError is an exception thrown by an MBean.
type javaError struct {
	class, message string
}

func (e *javaError) Error() string { return e.class + " : " + e.message }

// snapshot hard-links the live SSTables of the selected tables under snapshots/<tag>/.
func (n *Node) snapshot(tag string, options map[string]string, entities []string) error {
	if tag == "" || strings.ContainsAny(tag, `/\`) || tag == "." || tag == ".." {
		return &javaError{"java.io.IOException", "You must supply a snapshot name."}
	}
	sel, err := n.selectTables(entities)
	if err != nil {
		return err
	}
	for _, t := range sel {
		for _, d := range n.tableInfo(t).Dirs {
			if _, err := os.Stat(filepath.Join(d, cassandra.SnapshotsDir, tag)); err == nil {
				return &javaError{"java.io.IOException", fmt.Sprintf("Snapshot %s already exists.", tag)}
			}
		}
	}
	if options["skipFlush"] != "true" {
		if err := n.flush(sel); err != nil {
			return err
		}
	}
	created := n.clock.Add(time.Second)
	for _, t := range sel {
		var files []string
		for i, d := range n.tableInfo(t).Dirs {
			snap := filepath.Join(d, cassandra.SnapshotsDir, tag)
			linked, err := linkSSTables(d, snap, t.isLive)
			if err != nil {
				return &javaError{"java.io.IOException", err.Error()}
			}
			for _, l := range linked {
				files = append(files, l)
			}
			if i != 0 {
				continue
			}
			if err := os.MkdirAll(snap, 0o755); err != nil {
				return &javaError{"java.io.IOException", err.Error()}
			}
			if err := os.WriteFile(filepath.Join(snap, "schema.cql"), []byte(schemaCQL(t)), 0o644); err != nil {
				return &javaError{"java.io.IOException", err.Error()}
			}
		}
		sort.Strings(files)
		manifest, _ := json.MarshalIndent(map[string]any{
			"files": files, "created_at": created.Format(time.RFC3339Nano), "expires_at": nil, "ephemeral": false,
		}, "", "  ")
		first := filepath.Join(n.tableInfo(t).Dirs[0], cassandra.SnapshotsDir, tag, "manifest.json")
		if err := os.WriteFile(first, manifest, 0o644); err != nil {
			return &javaError{"java.io.IOException", err.Error()}
		}
	}
	return nil
}

// linkSSTables hard-links the files of the live SSTables of a table directory (and its index
// directories) into snap, and returns the linked names relative to snap.
func linkSSTables(tableDir, snap string, live func(index, name string) bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(tableDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tableDir, path)
		if d.IsDir() {
			if path != tableDir && (d.Name() == cassandra.SnapshotsDir || d.Name() == "backups" || !strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		desc, err := cassandra.ParseDescriptor(d.Name())
		if err != nil {
			return nil
		}
		index := ""
		if dir := filepath.Dir(rel); dir != "." {
			index = dir
		}
		if !live(index, desc.SSTable()) {
			return nil
		}
		dst := filepath.Join(snap, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Link(path, dst); err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

func schemaCQL(t *table) string {
	id, _ := uuid.Parse(t.id)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n    %s\n) WITH ID = %s\n", t.ks, t.name, strings.Join(columnsOf(t), ",\n    "), id)
	b.WriteString("    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy'}\n")
	b.WriteString("    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'};\n")
	for _, a := range t.alters {
		b.WriteString(a + "\n")
	}
	for _, idx := range t.indexes {
		fmt.Fprintf(&b, "CREATE INDEX IF NOT EXISTS %s ON %s.%s (value);\n", idx, t.ks, t.name)
	}
	return b.String()
}

// clearSnapshot removes snapshot tag (every snapshot when empty) from the keyspaces (all when none).
func (n *Node) clearSnapshot(tag string, keyspaces []string) error {
	for _, t := range n.tables {
		if len(keyspaces) > 0 && !contains(keyspaces, t.ks) {
			continue
		}
		for _, d := range n.tableInfo(t).Dirs {
			p := filepath.Join(d, cassandra.SnapshotsDir, tag)
			if tag == "" {
				p = filepath.Join(d, cassandra.SnapshotsDir)
			}
			if err := os.RemoveAll(p); err != nil {
				return &javaError{"java.io.IOException", err.Error()}
			}
		}
	}
	return nil
}

// importSSTables moves the SSTables found in srcPaths into a table under new generations,
// verifying each Data.db against its digest, and returns the directories that failed.
func (n *Node) importSSTables(t *table, srcPaths []string, verify bool) []string {
	var failed []string
	for _, src := range srcPaths {
		ss, err := cassandra.ReadSSTables(src)
		if err == nil && verify {
			err = verifySSTables(ss)
		}
		if err != nil {
			failed = append(failed, src)
			continue
		}
		for _, s := range ss {
			gen := n.generation(t)
			dir := n.tableInfo(t).Dirs[t.nextGen%len(n.cfg.DataDirs)]
			if s.Index != "" {
				dir = filepath.Join(dir, s.Index)
			}
			t.nextGen++
			for _, f := range s.Files {
				d, _ := cassandra.ParseDescriptor(f.Name)
				d.Generation = gen
				if err := os.Rename(f.Path, filepath.Join(dir, d.FileName())); err != nil {
					failed = append(failed, src)
					break
				}
			}
			if d, err := cassandra.ParseDescriptor(s.Name + "-Data.db"); err == nil {
				t.markLive(s.Index, d.Version+"-"+gen+"-"+d.Format)
			}
		}
	}
	return failed
}

func verifySSTables(ss []cassandra.SSTable) error {
	for _, s := range ss {
		sum, err := cassandra.FileCRC32(filepath.Join(s.Dir, s.Name+"-Data.db"))
		if err != nil {
			return err
		}
		if strconv.FormatUint(uint64(sum), 10) != s.Digest {
			return fmt.Errorf("sstable %s: digest mismatch", s.Name)
		}
	}
	return nil
}

// loadNewSSTables loads the SSTables that appeared in t's directories, the way Cassandra
// 3.x's ColumnFamilyStore.loadNewSSTables does: each one is renamed to the next free
// generation, then all become live together and their index SSTables are rebuilt. An
// SSTable of a format the release cannot read aborts the load; a component set without
// Data.db fails it as the assertion in SSTableReader.open does.
func (n *Node) loadNewSSTables(t *table) error {
	if t.live == nil {
		return nil // 4.x through Jolokia: every SSTable on disk is live already
	}
	type loaded struct {
		dir, gen, name string
		data           []byte
	}
	var found []loaded
	for _, dir := range n.tableInfo(t).Dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return &javaError{"java.io.IOException", err.Error()}
		}
		sets := map[string][]cassandra.Descriptor{}
		var names []string
		for _, e := range entries {
			d, err := cassandra.ParseDescriptor(e.Name())
			if err != nil || !e.Type().IsRegular() || t.live[d.SSTable()] {
				continue
			}
			if sets[d.SSTable()] == nil {
				names = append(names, d.SSTable())
			}
			sets[d.SSTable()] = append(sets[d.SSTable()], d)
		}
		sort.Strings(names)
		for _, name := range names {
			files := sets[name]
			d := files[0]
			if d.Version[0] > n.cfg.Version[0] || d.Format != "big" && d.Format != n.cfg.Format || d.UUIDGeneration() && n.legacy() {
				return &javaError{"java.lang.RuntimeException", fmt.Sprintf("Can't open incompatible SSTable! Current version %s, found file: %s", n.cfg.Version, filepath.Join(dir, name))}
			}
			hasData := false
			for _, f := range files {
				hasData = hasData || f.Component == "Data.db"
			}
			if !hasData {
				return &javaError{"java.lang.AssertionError", "Data component is missing for sstable " + filepath.Join(dir, name)}
			}
			var gen string
			for {
				gen = n.generation(t)
				t.nextGen++
				if _, err := os.Stat(filepath.Join(dir, d.Version+"-"+gen+"-"+d.Format+"-Data.db")); errors.Is(err, fs.ErrNotExist) {
					break
				}
			}
			for _, f := range files {
				from := f.FileName()
				f.Generation = gen
				if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, f.FileName())); err != nil {
					return &javaError{"org.apache.cassandra.io.FSWriteError", err.Error()}
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, d.Version+"-"+gen+"-"+d.Format+"-Data.db"))
			if err != nil {
				return &javaError{"org.apache.cassandra.io.sstable.CorruptSSTableException", err.Error()}
			}
			found = append(found, loaded{dir: dir, gen: gen, name: d.Version + "-" + gen + "-" + d.Format, data: data})
		}
	}
	for _, l := range found {
		t.markLive("", l.name)
		if err := n.writeIndexes(t, l.dir, l.gen, l.data); err != nil {
			return &javaError{"java.io.IOException", err.Error()}
		}
	}
	return nil
}
