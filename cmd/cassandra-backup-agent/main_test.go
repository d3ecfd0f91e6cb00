package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// startServe runs `serve` with extra flags against the node and waits until its API answers.
func startServe(t *testing.T, bin string, node *fakecassandra.Node, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := controlplane.FreeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--insecure-skip-auth", "--listen", addr, "--jolokia-url", node.URL(), "--hostname", "node-0"}, extra...)...)
	cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	for {
		resp, err := http.Get(url + "/status")
		if err == nil {
			resp.Body.Close()
			return cmd, url
		}
		if cmd.ProcessState != nil {
			t.Fatalf("agent exited: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func submit(t *testing.T, url string, req api.Request) string {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(url+"/operations", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o api.Operation
	json.NewDecoder(resp.Body).Decode(&o)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /operations: %d", resp.StatusCode)
	}
	return o.ID
}

func waitFor(t *testing.T, url, id string, cond func(api.Operation) bool) api.Operation {
	t.Helper()
	for {
		resp, err := http.Get(url + "/operations/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var o api.Operation
		json.NewDecoder(resp.Body).Decode(&o)
		resp.Body.Close()
		if cond(o) {
			return o
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bucketState returns the manifests and data objects in a file:// bucket.
func bucketState(t *testing.T, bucket string) (manifests []string, objects map[string]bool) {
	t.Helper()
	objects = map[string]bool{}
	filepath.WalkDir(bucket, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(bucket, p)
		if strings.HasPrefix(rel, ".") {
			return nil
		}
		if strings.Contains(rel, "/manifests/") {
			manifests = append(manifests, p)
		} else {
			objects[rel] = true
		}
		return nil
	})
	return manifests, objects
}

func TestKilledAgentBackupResubmitted(t *testing.T) {
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent")
	node := fakecassandra.New(t, fakecassandra.Config{})
	for i := 0; i < 6; i++ {
		if err := node.WriteSSTable("ks", "t"+strconv.Itoa(i), 40000); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	bucket := filepath.Join(dir, "b")
	req := api.Request{Type: api.TypeBackup, StorageLocation: "file://" + bucket, SnapshotTag: "k", CreateMissingBucket: true, ConcurrentConnections: 2,
		Bandwidth: &api.Bandwidth{Value: 64, Unit: "KBPS"}}

	cmd, url := startServe(t, bin, node)
	id := submit(t, url, req)
	waitFor(t, url, id, func(o api.Operation) bool { return o.FilesTransferred >= 2 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	manifests, objects := bucketState(t, bucket)
	if len(manifests) != 0 {
		t.Fatalf("manifest exists after a killed upload: %v", manifests)
	}
	if len(objects) < 2 {
		t.Fatalf("only %d objects uploaded before the kill", len(objects))
	}
	if !node.SnapshotExists("k") {
		t.Fatal("the killed agent's snapshot should still be on disk")
	}

	_, url = startServe(t, bin, node)
	req.Bandwidth = nil
	id = submit(t, url, req)
	o := waitFor(t, url, id, func(o api.Operation) bool { return o.State.Final() })
	if o.State != api.StateCompleted || o.BytesSkipped == 0 || o.FilesSkipped < 2 {
		t.Fatalf("resubmitted backup: %+v", o)
	}
	if node.SnapshotExists("k") {
		t.Error("snapshot left after the resubmitted backup")
	}
	manifests, objects = bucketState(t, bucket)
	if len(manifests) != 1 {
		t.Fatalf("manifests: %v", manifests)
	}
	checkManifest(t, node, manifests[0], objects)
}

// checkManifest decodes the manifest at path and checks that every file it names is in
// the bucket (objects) under node's prefix.
func checkManifest(t *testing.T, node *fakecassandra.Node, path string, objects map[string]bool) *layout.Manifest {
	t.Helper()
	data, _ := os.ReadFile(path)
	m, err := layout.DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	prefix := layout.Node{Cluster: node.ClusterName(), Datacenter: node.Datacenter(), HostID: node.HostID()}
	for _, f := range m.Files() {
		if !objects[prefix.Key(f.ObjectKey)] {
			t.Errorf("manifest names %s, which is not in the bucket", f.ObjectKey)
		}
	}
	return m
}

func TestRestoreCommand(t *testing.T) {
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent")
	node := fakecassandra.New(t, fakecassandra.Config{NumTokens: 4})
	if err := node.WriteSSTable("ks", "t", 30000); err != nil {
		t.Fatal(err)
	}
	bucket := filepath.Join(t.TempDir(), "b")
	_, url := startServe(t, bin, node)
	id := submit(t, url, api.Request{Type: api.TypeBackup, StorageLocation: "file://" + bucket, SnapshotTag: "r", CreateMissingBucket: true})
	if o := waitFor(t, url, id, func(o api.Operation) bool { return o.State.Final() }); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}

	root := t.TempDir()
	run := func() string {
		cmd := exec.Command(bin, "restore",
			"--data-dir", filepath.Join(root, "data"),
			"--commitlog-dir", filepath.Join(root, "commitlog"), "--hints-dir", filepath.Join(root, "hints"),
			"--saved-caches-dir", filepath.Join(root, "saved_caches"),
			"--tokens-file", filepath.Join(root, "tokens.yaml"), "--marker-file", filepath.Join(root, "data", "restore_done"),
			"--cluster", node.ClusterName(), "--dc", node.Datacenter())
		cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=",
			"AGENT_STORAGE_LOCATION=file://"+bucket, "AGENT_SNAPSHOT_TAG=r", "AGENT_HOST_ID="+node.HostID())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("restore: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	tb, _ := node.Table("ks", "t")
	live, err := cassandra.ReadSSTables(tb.Dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range live {
		for _, f := range s.Files {
			want, _ := os.ReadFile(f.Path)
			got, err := os.ReadFile(filepath.Join(root, "data", "ks", tb.DirName(), f.Name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s not restored byte for byte: %v", f.Name, err)
			}
		}
	}
	yaml, _ := os.ReadFile(filepath.Join(root, "tokens.yaml"))
	if string(yaml) != agent.TokensYAML(node.Tokens()) {
		t.Errorf("tokens.yaml = %q", yaml)
	}
	// The restarted init container exits 0 at once, even with the bucket gone.
	if err := os.RemoveAll(bucket); err != nil {
		t.Fatal(err)
	}
	if out := run(); !strings.Contains(out, "already done") {
		t.Errorf("second restore did not see the marker:\n%s", out)
	}
}

// TestRestoreTimeout: an init container whose storage endpoint accepts connections and
// never answers gives up after --timeout, with an error that says so, instead of keeping
// the pod in Init forever.
func TestRestoreTimeout(t *testing.T) {
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the test ends
		}
	}()
	root := t.TempDir()
	cmd := exec.Command(bin, "restore", "--timeout=2s",
		"--storage-location=gcp://hung", "--gcs-endpoint=http://"+ln.Addr().String()+"/storage/v1/",
		"--snapshot-tag=r", "--cluster=c", "--dc=dc1", "--host-id=6b3f1c0e-0000-4000-8000-000000000001",
		"--data-dir", filepath.Join(root, "data"),
		"--commitlog-dir", filepath.Join(root, "commitlog"), "--hints-dir", filepath.Join(root, "hints"),
		"--saved-caches-dir", filepath.Join(root, "saved_caches"),
		"--tokens-file", filepath.Join(root, "tokens.yaml"), "--marker-file", filepath.Join(root, "data", "restore_done"))
	cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=")
	start := time.Now()
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("restore still running after 90s with --timeout=2s:\n%s", out)
	}
	if err == nil {
		t.Fatalf("restore against a hung endpoint succeeded:\n%s", out)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("restore gave up after %v, --timeout=2s", took)
	}
	if !strings.Contains(string(out), "did not finish within --timeout=2s") {
		t.Errorf("the error does not name the timeout:\n%s", out)
	}
}

// TestServeManagementAPI backs up a cass-operator node through its Management API: the
// agent takes, uploads and clears the snapshot without a Jolokia call.
func TestServeManagementAPI(t *testing.T) {
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent")
	node := fakecassandra.New(t, fakecassandra.Config{ManagementAPI: true})
	if err := node.WriteSSTable("ks", "t", 4000); err != nil {
		t.Fatal(err)
	}
	if err := node.Write("ks", "t", 1000); err != nil { // in the memtable: the snapshot flushes it
		t.Fatal(err)
	}
	bucket := filepath.Join(t.TempDir(), "b")
	_, url := startServe(t, bin, node, "--node-control=management-api", "--management-api-url="+node.ManagementAPIURL(),
		"--jolokia-url=http://127.0.0.1:1/jolokia/", "--data-dir="+strings.Join(node.DataDirs(), ","))
	id := submit(t, url, api.Request{Type: api.TypeBackup, StorageLocation: "file://" + bucket, SnapshotTag: "m", CreateMissingBucket: true})
	o := waitFor(t, url, id, func(o api.Operation) bool { return o.State.Final() })
	if o.State != api.StateCompleted {
		t.Fatalf("backup through the Management API: %+v", o)
	}
	if node.Calls("takeSnapshot") != 1 || node.Calls("clearSnapshot") < 1 || node.SnapshotExists("m") {
		t.Errorf("snapshot calls %d, clear calls %d, left %v", node.Calls("takeSnapshot"), node.Calls("clearSnapshot"), node.SnapshotExists("m"))
	}
	if n := len(node.Callers()); n != 0 {
		t.Errorf("%d Jolokia callers, want none", n)
	}
	manifests, objects := bucketState(t, bucket)
	if len(manifests) != 1 {
		t.Fatalf("manifests: %v", manifests)
	}
	m := checkManifest(t, node, manifests[0], objects)
	if len(m.Tokens) != len(node.Tokens()) {
		t.Errorf("manifest tokens %v, want %v", m.Tokens, node.Tokens())
	}
	ss, _ := node.SSTables("ks", "t")
	count := 0
	for _, f := range m.Files() {
		if strings.Contains(f.ObjectKey, "/ks/t-") && strings.HasSuffix(f.ObjectKey, "-Data.db") {
			count++
		}
	}
	if count != len(ss) || count != 2 {
		t.Errorf("%d Data.db of ks.t backed up, %d live", count, len(ss))
	}
	if _, err := exec.Command(bin, "serve", "--node-control=nodetool").CombinedOutput(); err == nil {
		t.Error("--node-control=nodetool: no error")
	}
}
