// Package e2e_test walks through the user guide (reference/backup-restore-guide.md) for
// each storage provider: the guide's Secret, CassandraBackup, kubectl get and describe,
// then in a second control plane (another Kubernetes cluster) a justCreate backup and a
// CassandraDataCenter with spec.restore, whose pods are admitted by the webhook and
// restored by the real agent binary run by the pod runner.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/e2e/guide"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// TestMain runs the suite on the pod network when root (podnet.DefaultWhenRoot).
func TestMain(m *testing.M) {
	podnet.DefaultWhenRoot(os.Stderr)
	os.Exit(controlplane.Main(m))
}

const (
	deadline   = 3 * time.Minute
	backupName = "test-cassandra-backup"
	cluster    = "test-cluster"
	dcName     = "dc1"
)

// provider is one storage target of the walkthrough.
type provider struct {
	name  string
	setup func(t *testing.T) (location string, secret []byte, st storage.Config)
}

// secretYAML is the guide's Secret with stringData filled for an emulator.
func secretYAML(data map[string][]byte) []byte {
	sd := map[string]string{}
	for k, v := range data {
		sd[k] = string(v)
	}
	b, _ := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": "cloud-backup-secrets"}, "stringData": sd})
	return b
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "manifests", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var providers = []provider{
	{"file", func(t *testing.T) (string, []byte, storage.Config) {
		// The guide's Secret unchanged: a file location reads no key of it.
		parent, err := guide.FileBucketParent()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(parent) })
		return "file://" + parent + "/cassandra-bucket", sample(t, "cloud-backup-secrets.yaml"), storage.Config{}
	}},
	{"s3", func(t *testing.T) (string, []byte, storage.Config) {
		s := emulators.S3(t)
		return "s3://cassandra-bucket", secretYAML(s.Secret()), storage.Config{}
	}},
	{"azure", func(t *testing.T) (string, []byte, storage.Config) {
		a := emulators.Azurite(t)
		return "azure://cassandra-bucket", secretYAML(a.Secret()), storage.Config{AzureEndpoint: a.Endpoint}
	}},
	{"gcs", func(t *testing.T) (string, []byte, storage.Config) {
		g := emulators.GCS(t)
		// fake-gcs-server takes no credentials: the Secret has none of the guide's keys.
		return "gcp://cassandra-bucket", secretYAML(map[string][]byte{}), storage.Config{GCSEndpoint: g.Endpoint}
	}},
}

// backupYAML is the guide's CassandraBackup (with its repeated secret key) for location;
// the emulators speak HTTP, hence insecure, and the bucket does not exist yet.
func backupYAML(location string, justCreate bool) []byte {
	last := "globalRequest: true\n  secret: cloud-backup-secrets\n  insecure: true\n  createMissingBucket: true\n"
	if justCreate {
		last = "justCreate: true\n  insecure: true\n"
	}
	return []byte(`apiVersion: cassandraoperator.instaclustr.com/v1alpha1
kind: CassandraBackup
metadata:
  name: ` + backupName + `
  labels:
    app: cassandra
spec:
  cdc: test-cluster-dc1-cassandra
  cluster: test-cluster
  datacenter: dc1
  storageLocation: "` + location + `"
  snapshotTag: "mySnapshotTag"
  secret: cloud-backup-secrets
  ` + last)
}

// datacenterYAML is the guide's CassandraDataCenter with spec.restore, three racks of
// one node each.
const datacenterYAML = `apiVersion: cassandraoperator.instaclustr.com/v1alpha1
kind: CassandraDataCenter
metadata:
  name: test-dc-cassandra
  labels:
    app: cassandra
spec:
  cluster: test-cluster
  datacenter: dc1
  nodes: 3
  racks:
  - name: west1-a
  - name: west1-b
  - name: west1-c
  restore:
    backupName: ` + backupName + `
`

func TestGuideWalkthrough(t *testing.T) {
	cpA := controlplane.Shared(t)
	cpB, err := controlplane.Start(context.Background(), controlplane.Options{})
	if err != nil {
		t.Fatalf("second control plane: %v", err)
	}
	t.Cleanup(cpB.Stop)
	agentBin := podrunner.BuildAgent(t)
	operatorBin := controlplane.GoBuild(t, "./cmd/cassandra-backup-operator")
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			start := time.Now()
			walkthrough(t, cpA, cpB, agentBin, operatorBin, p, profile.InstaclustrProfile, nil)
			t.Logf("%s walkthrough took %s", p.name, time.Since(start).Round(time.Millisecond))
		})
	}
	// The same walkthrough with cass-operator's pods: their labels and names, the agents
	// controlling the nodes through the Management API, the datacenter annotated with the
	// profile. The backup is the guide's, unchanged: its pods are found by their labels.
	for _, p := range providers[:2] { // file and s3
		t.Run("cass-operator/"+p.name, func(t *testing.T) {
			start := time.Now()
			walkthrough(t, cpA, cpB, agentBin, operatorBin, p, profile.CassOperatorProfile, nil)
			t.Logf("cass-operator %s walkthrough took %s", p.name, time.Since(start).Round(time.Millisecond))
		})
	}
	// And with cass-operator's own CassandraDatacenter, in a cluster without our
	// CassandraDataCenter CRD: the restore is asked for by its annotation.
	cpC := startCassOperatorCluster(t)
	for _, p := range providers[:2] { // file and s3
		t.Run("cass-operator-annotation/"+p.name, func(t *testing.T) {
			start := time.Now()
			walkthrough(t, cpA, cpC, agentBin, operatorBin, p, profile.CassOperatorProfile, cassOperatorRequest(t, cpC))
			t.Logf("cass-operator annotation %s walkthrough took %s", p.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// datacenterYAMLFor is datacenterYAML, annotated with prof unless prof is the default.
func datacenterYAMLFor(prof profile.Profile) string {
	if prof.Name == profile.Instaclustr {
		return datacenterYAML
	}
	return strings.Replace(datacenterYAML, "  labels:\n", "  annotations:\n    "+profile.Annotation+": "+prof.Name+"\n  labels:\n", 1)
}

func kubectl(t *testing.T, cp *controlplane.ControlPlane, stdin []byte, args ...string) string {
	t.Helper()
	out, err := cp.Kubectl(context.Background(), stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// observed has the env's operator binary serve its metrics on a free loopback port, lead
// through a Lease and log JSON; it returns the metrics URL. The Lease is where the shipped
// RBAC lets the operator's own ServiceAccount (OwnAccounts) keep it: in the release
// namespace, named after the env's namespace so walkthroughs never share one.
func observed(t *testing.T, e *guide.Env) string {
	t.Helper()
	port, err := controlplane.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	e.OperatorArgs = append(e.OperatorArgs, "--metrics-bind-address="+addr, "--leader-elect", "--leader-elect-namespace="+guide.ShippedNamespace, "--leader-elect-id="+leaseName(e.Namespace),
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms", "--logging-format=json")
	return "http://" + addr + "/metrics"
}

// leaseName is the leader Lease of the operator of the env of namespace ns.
func leaseName(ns string) string { return "operator-" + ns }

// startOperator runs the operator binary over the env's namespace.
func startOperator(t *testing.T, ctx context.Context, e *guide.Env, bin string) *guide.Operator {
	t.Helper()
	op, err := e.StartOperatorBinary(ctx, bin, filepath.Join(e.Dir, "operator.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Stop)
	return op
}

// walkthrough backs up in cluster A and restores in cluster B, the restore asked for by
// req (nil: the guide's CassandraDataCenter with spec.restore).
func walkthrough(t *testing.T, cpA, cpB *controlplane.ControlPlane, agentBin, operatorBin string, p provider, prof profile.Profile, req *restoreRequest) {
	_, ctx := ktesting.NewTestContext(t)
	w := backUpInA(t, ctx, cpA, agentBin, operatorBin, p, prof)
	nodes, secret := w.nodes, w.secret

	// Cluster B: another Kubernetes cluster knows nothing of the backup. The guide's
	// justCreate backup imports it, and a datacenter restores it.
	bEnv, opMetricsB, _ := startB(t, ctx, cpB, agentBin, operatorBin, w)
	if req == nil {
		req = ourRequest(bEnv, prof)
	}
	kubectl(t, cpB, []byte(req.yaml), "apply", "-n", bEnv.Namespace, "-f", "-")
	dc := waitRestore(t, ctx, req, bEnv.Namespace, "the restore plan", func(r *v1alpha1.RestoreStatus) bool { return r.State == v1alpha1.RestorePlanned })
	runner := newRunner(t, ctx, bEnv, agentBin, w.network)
	var restored int64
	for _, src := range nodes {
		restored += restorePod(t, ctx, bEnv, runner, prof, dc, src, secret)
	}
	dc = waitRestore(t, ctx, req, bEnv.Namespace, "the restore to complete", allCompleted(3))
	if req.after != nil {
		req.after(t, ctx, bEnv.Namespace)
	}
	// The restore metrics and state-change lines: those of CassandraDataCenters, and the
	// same for a restore asked for by the annotation on cass-operator's CassandraDatacenter.
	if req.name == "spec.restore" || req.name == "annotation" {
		checkDashboardMetrics(t, append(w.scrapes, checkRestoreMetrics(t, opMetricsB, dc, len(nodes)))...)
		checkJSONLog(t, filepath.Join(bEnv.Dir, "operator.log"), "Restore state changed")
	}
	var pairs []string
	for _, n := range dc.Status.Restore.Nodes {
		pairs = append(pairs, n.Pod+"<-"+n.SourceNode)
	}
	sort.Strings(pairs)
	t.Logf("%s (%s, %s): restored %d bytes byte-identical over 3 pods: %s", p.name, prof.Name, req.name, restored, strings.Join(pairs, " "))
}

// backedUp is what cluster A leaves for the restore: the bucket, its Secret, the nodes
// backed up and the scrapes of the backup's metrics.
type backedUp struct {
	location string
	secret   []byte
	st       storage.Config
	network  *podnet.Network
	nodes    []*guide.Node
	scrapes  []metrics
}

// backUpInA runs the guide's backup in cluster A: the operator, three nodes over three
// racks of profile prof, the guide's Secret and backup, checked until COMPLETED.
func backUpInA(t *testing.T, ctx context.Context, cpA *controlplane.ControlPlane, agentBin, operatorBin string, p provider, prof profile.Profile) *backedUp {
	location, secret, st := p.setup(t)
	// With CASSBACKUP_PODNET=1 every pod runs in a network namespace of its own.
	network, err := podnet.FromEnv()
	if err != nil {
		t.Fatal(err)
	}

	// Cluster A: the operator, three nodes over three racks, the guide's Secret and backup.
	a := guide.NewEnv(cpA.Config(), cpA.KubeconfigPath, cpA.Namespace(t), agentBin, t.TempDir(), st)
	a.Network = network
	a.AgentMetrics = true
	opMetricsA := observed(t, a)
	a.OwnAccounts = true // the shipped RBAC, the operator's and the agents' own tokens
	a.Profile = prof
	startOperator(t, ctx, a, operatorBin)
	kubectl(t, cpA, secret, "apply", "-n", a.Namespace, "-f", "-")
	var nodes []*guide.Node
	for i, rack := range []string{"west1-a", "west1-b", "west1-c"} {
		name := prof.PodName(profile.NameParts{Cluster: cluster, Datacenter: dcName, Resource: "test-dc-cassandra", Rack: rack})
		n, err := a.StartNode(ctx, name, cluster, dcName, rack, uint64(10+i), []guide.Table{
			{Keyspace: "ks1", Name: "t1", Size: 20_000 + 1000*i}, {Keyspace: "ks1", Name: "t2", Size: 3000}, {Keyspace: "ks2", Name: "t3", Size: 5000 + i}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		nodes = append(nodes, n)
		t.Logf("pod %s at %s, agent %s", n.Name, n.IP, n.AgentURL)
	}
	kubectl(t, cpA, backupYAML(location, false), "apply", "-n", a.Namespace, "-f", "-")

	var b *v1alpha1.CassandraBackup
	err = guide.Poll(ctx, "the backup to complete", deadline, func() (bool, error) {
		b, err = a.Client.CassandraoperatorV1alpha1().CassandraBackups(a.Namespace).Get(ctx, backupName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st, _ := json.Marshal(b.Status)
		return b.Status.State == v1alpha1.BackupCompleted, fmt.Errorf("status %s", st)
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status.Progress != "100%" || len(b.Status.Nodes) != 3 {
		t.Fatalf("backup status: %+v", b.Status)
	}
	for i, n := range b.Status.Nodes {
		if n.Node != nodes[i].Name || n.Rack != nodes[i].Rack || n.HostID != nodes[i].Fake.HostID() || n.State != v1alpha1.BackupCompleted ||
			n.Progress != "100%" || n.BytesTotal == 0 || n.BytesUploaded != n.BytesTotal {
			t.Errorf("node %d: %+v", i, n)
		}
	}
	scheme, _, _ := strings.Cut(location, "://")
	scrapes := checkBackupMetrics(t, opMetricsA, a.Namespace, nodes, b, scheme)
	checkJSONLog(t, filepath.Join(a.Dir, "operator.log"), "Backup state changed")

	// The operator (a binary, like the agents) talks to nodes only through their agents:
	// every Jolokia request a node got came from an agent binary.
	for _, n := range nodes {
		for ua, count := range n.Fake.Callers() {
			if !strings.HasPrefix(ua, "cassandra-backup-agent/") || prof.NodeControl != profile.Jolokia {
				t.Errorf("node %s: %d Jolokia requests from %q, not from an agent through Jolokia", n.Name, count, ua)
			}
		}
		if n.Fake.Calls("takeSnapshot") != 1 {
			t.Errorf("node %s: %d snapshots, want 1", n.Name, n.Fake.Calls("takeSnapshot"))
		}
	}

	// kubectl get and describe show the state, the progress and every node.
	out := kubectl(t, cpA, nil, "get", "cassandrabackups.cassandraoperator.instaclustr.com", "-n", a.Namespace)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0])[:3], " ") != "NAME STATUS PROGRESS" ||
		strings.Join(strings.Fields(lines[1])[:3], " ") != backupName+" COMPLETED 100%" {
		t.Errorf("kubectl get:\n%s", out)
	}
	out = kubectl(t, cpA, nil, "describe", "cassandrabackups.cassandraoperator.instaclustr.com", "-n", a.Namespace)
	// Each node's entry of status.nodes: describe prints its fields in order, starting
	// with Attempts.
	entries := strings.Split(out, "Attempts:")
	for _, n := range nodes {
		found := false
		for _, e := range entries[1:] {
			if !strings.Contains(e, "Node:               "+n.Name) && !regexpNode(n.Name).MatchString(e) {
				continue
			}
			found = true
			for _, want := range []string{"Progress:           100%", "State:              COMPLETED", "Host Id:            " + n.Fake.HostID(), "Rack:               " + n.Rack} {
				if !strings.Contains(e, want) {
					t.Errorf("kubectl describe, node %s lacks %q:\n%s", n.Name, want, e)
				}
			}
		}
		if !found {
			t.Errorf("kubectl describe does not show node %s:\n%s", n.Name, out)
		}
	}
	t.Logf("kubectl get:\n%s", strings.TrimSpace(kubectl(t, cpA, nil, "get", "cassandrabackups", "-n", a.Namespace)))
	noSecretValues(t, secret, out)
	return &backedUp{location: location, secret: secret, st: st, network: network, nodes: nodes, scrapes: scrapes}
}

// startB starts cluster B's operator (binary bin) and imports the backup there with the
// guide's justCreate backup.
func startB(t *testing.T, ctx context.Context, cpB *controlplane.ControlPlane, agentBin, bin string, w *backedUp) (*guide.Env, string, *guide.Operator) {
	var b *v1alpha1.CassandraBackup
	var err error
	// Cluster B: another Kubernetes cluster knows nothing of the backup. The guide's
	// justCreate backup imports it, and a datacenter restores it.
	bEnv := guide.NewEnv(cpB.Config(), cpB.KubeconfigPath, cpB.Namespace(t), agentBin, t.TempDir(), w.st)
	bEnv.Network = w.network
	opMetricsB := observed(t, bEnv)
	bEnv.OwnAccounts = true
	op := startOperator(t, ctx, bEnv, bin)
	kubectl(t, cpB, w.secret, "apply", "-n", bEnv.Namespace, "-f", "-")
	kubectl(t, cpB, backupYAML(w.location, true), "apply", "-n", bEnv.Namespace, "-f", "-")
	err = guide.Poll(ctx, "the justCreate backup to be imported", deadline, func() (bool, error) {
		b, err = bEnv.Client.CassandraoperatorV1alpha1().CassandraBackups(bEnv.Namespace).Get(ctx, backupName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st, _ := json.Marshal(b.Status)
		return b.Status.State == v1alpha1.BackupCompleted, fmt.Errorf("status %s", st)
	})
	if err != nil {
		t.Fatal(err)
	}
	return bEnv, opMetricsB, op
}

// restorePod creates the pod of dc restoring node src, checks the webhook gave it the
// restore, runs its init container and checks the restored files byte for byte, the
// tokens fragment and the JVM options; it returns the bytes compared.
func restorePod(t *testing.T, ctx context.Context, bEnv *guide.Env, runner *podrunner.Runner, prof profile.Profile, dc *v1alpha1.CassandraDataCenter, src *guide.Node, secret []byte) int64 {
	t.Helper()
	name := restore.ProfilePodName(prof)(dc, src.Rack, 0)
	pod := guide.ProfilePod(prof, name, dc)
	err := guide.Poll(ctx, "pod "+name+" to be admitted", deadline, func() (bool, error) {
		created, err := bEnv.Kube.CoreV1().Pods(bEnv.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err == nil {
			pod = created
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != webhook.InitContainerName {
		t.Fatalf("pod %s was not given the restore init container: %+v", name, pod.Spec.InitContainers)
	}
	if got := pod.Annotations[plan.AnnotationSourceNode]; got != src.Name {
		t.Errorf("pod %s restores %s, want %s (rack %s)", name, got, src.Name, src.Rack)
	}
	raw, _ := json.Marshal(pod)
	noSecretValues(t, secret, string(raw))
	results, err := runner.RunInitContainers(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].ExitCode != 0 {
		t.Fatalf("init container of %s: %+v", name, results)
	}
	vol := filepath.Join(runner.Root, bEnv.Namespace, name, "volumes", "data-volume")
	want, err := guide.Files(src.Fake.DataDirs()[0], guide.Restored)
	if err != nil {
		t.Fatal(err)
	}
	got, err := guide.Files(filepath.Join(vol, "data"), guide.All)
	if err != nil {
		t.Fatal(err)
	}
	n, err := guide.CompareFiles(want, got)
	if err != nil {
		t.Errorf("pod %s (node %s): %v", name, src.Name, err)
	}
	frag, err := os.ReadFile(filepath.Join(vol, "restore-tokens.yaml"))
	if err != nil || string(frag) != agent.TokensYAML(src.Fake.Tokens()) {
		t.Errorf("pod %s: tokens fragment %q, %v; want the tokens of %s", name, frag, err, src.Name)
	}
	cass, _ := podrunner.Container(pod, "cassandra")
	vars, _, err := runner.ResolveEnv(ctx, pod, cass)
	if err != nil {
		t.Fatal(err)
	}
	if want := guide.TokensJVMOptions(src.Fake.Tokens()); vars[webhook.EnvRestoreJVMOptions] != want || vars["JVM_EXTRA_OPTS"] != want {
		t.Errorf("pod %s: JVM options %q / %q, want %q", name, vars[webhook.EnvRestoreJVMOptions], vars["JVM_EXTRA_OPTS"], want)
	}
	return n
}

// regexpNode matches the describe line of a node's name.
func regexpNode(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*Node:\s+` + regexp.QuoteMeta(name) + `\s*$`)
}

// noSecretValues fails when a value of the Secret's stringData appears in text.
func noSecretValues(t *testing.T, secretYAML []byte, text string) {
	t.Helper()
	var s struct {
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(secretYAML, &s); err != nil {
		t.Fatal(err)
	}
	for k, v := range s.StringData {
		if k == "awsregion" || k == "awsendpoint" || k == "azurestorageaccount" || len(v) < 8 {
			continue // not secret: the region, the endpoint and the account name appear in locations
		}
		if strings.Contains(text, v) {
			t.Errorf("the value of Secret key %s appears in the output", k)
		}
	}
}

// ourRequest asks for the restore with spec.restore on the guide's CassandraDataCenter
// (annotated with prof unless it is the default).
func ourRequest(bEnv *guide.Env, prof profile.Profile) *restoreRequest {
	dcs := bEnv.Client.CassandraoperatorV1alpha1().CassandraDataCenters(bEnv.Namespace)
	return &restoreRequest{name: "spec.restore", yaml: datacenterYAMLFor(prof), get: func(ctx context.Context, _ string) (*v1alpha1.CassandraDataCenter, error) {
		return dcs.Get(ctx, "test-dc-cassandra", metav1.GetOptions{})
	}}
}

// waitRestore polls the restore's status until done says so; it returns the datacenter.
func waitRestore(t *testing.T, ctx context.Context, req *restoreRequest, ns, what string, done func(*v1alpha1.RestoreStatus) bool) *v1alpha1.CassandraDataCenter {
	t.Helper()
	var dc *v1alpha1.CassandraDataCenter
	err := guide.Poll(ctx, what, deadline, func() (bool, error) {
		var err error
		dc, err = req.get(ctx, ns)
		if err != nil || dc.Status.Restore == nil {
			return false, err
		}
		st, _ := json.Marshal(dc.Status.Restore)
		return done(dc.Status.Restore), fmt.Errorf("status.restore %s", st)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// allCompleted is a restore of n pods, every one COMPLETED.
func allCompleted(n int) func(*v1alpha1.RestoreStatus) bool {
	return func(r *v1alpha1.RestoreStatus) bool {
		if r.State != v1alpha1.RestoreCompleted || len(r.Nodes) != n {
			return false
		}
		for _, node := range r.Nodes {
			if node.State != v1alpha1.RestoreCompleted {
				return false
			}
		}
		return true
	}
}

// newRunner runs cluster B's pods' init containers with the agent binary, as the agents'
// own ServiceAccount.
func newRunner(t *testing.T, ctx context.Context, bEnv *guide.Env, agentBin string, network *podnet.Network) *podrunner.Runner {
	t.Helper()
	agentKubeconfig, err := bEnv.AgentKubeconfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runner := &podrunner.Runner{Kube: bEnv.Kube, Binaries: map[string]string{"cassandra-backup-agent": agentBin},
		Root: t.TempDir(), Env: []string{"AGENT_KUBECONFIG=" + agentKubeconfig}, Network: network}
	t.Cleanup(runner.Close)
	return runner
}
