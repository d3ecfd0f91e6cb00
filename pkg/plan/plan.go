// Package plan owns the restore plan: the contract between the restore controller, which
// writes it, the webhook, which reads it from its cache and injects the restore init
// container, and the agent, which runs as that init container. It holds the plan's type
// and its ConfigMap encoding (name, label, keys), the annotations put on restored pods,
// the restore key the agent's marker records, and the init container's name and
// arguments, written by Args.Flags and parsed by Args.Register.
package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// Label marks the ConfigMaps holding restore plans; its value is the datacenter's name.
// The operator's ConfigMap informer selects on it.
const Label = "cassandraoperator.instaclustr.com/restore-plan"

// InitContainerName is the name of the restore init container the webhook injects.
const InitContainerName = "restore"

// Keys of a plan ConfigMap. Per-pod keys are <pod name>.<suffix>; pod names are DNS
// subdomains, so they are valid ConfigMap keys.
const (
	// KeyPlan holds the plan without tokens, as JSON: what the webhook reads.
	KeyPlan = "plan.json"
	// SuffixTokens ends the key holding a pod's tokens, comma separated.
	SuffixTokens = ".tokens"
	// SuffixJVMOptions ends the key holding a pod's JVM options: the Cassandra container's
	// environment refers to it, so no token is copied into a pod spec.
	SuffixJVMOptions = ".jvmOptions"
)

// Annotations the webhook puts on the pods it mutates.
const (
	// AnnotationRestoreKey holds the restore key of the plan the pod was admitted with.
	AnnotationRestoreKey = "cassandraoperator.instaclustr.com/restore-key"
	// AnnotationSourceNode names the backed-up node the pod restores.
	AnnotationSourceNode = "cassandraoperator.instaclustr.com/restore-source-node"
)

// Plan is a datacenter's restore plan: what every planned pod restores. It is stored in
// a ConfigMap owned by the CassandraDataCenter; KeyPlan holds it without the tokens.
type Plan struct {
	// Name is the ConfigMap's name; it is not part of the stored plan.
	Name string `json:"-"`
	// Restore is the spec.restore the plan was made for; a plan for another spec.restore
	// is stale.
	Restore v1alpha1.RestoreSpec `json:"restore"`
	// Backup is the name of the CassandraBackup restored.
	Backup string `json:"backup"`
	// StorageLocation is the backup's bucket, as in the backup's spec.
	StorageLocation string `json:"storageLocation"`
	// SnapshotTag is the backup's snapshot tag.
	SnapshotTag string `json:"snapshotTag"`
	// SourceCluster is the backup's cluster name; with a clone it differs from the
	// datacenter's.
	SourceCluster string `json:"sourceCluster"`
	// SourceDatacenter is the backup's datacenter name.
	SourceDatacenter string `json:"sourceDatacenter"`
	// Secret is the name (never the content) of the Secret with the storage credentials;
	// empty means the agents' environment.
	Secret string `json:"secret,omitempty"`
	// Insecure talks HTTP to the storage, as the backup did.
	Insecure bool `json:"insecure,omitempty"`
	// Entities are the keyspaces and tables the backup holds (empty: all).
	Entities string `json:"entities,omitempty"`
	// Pods maps the planned pod names to what they restore.
	Pods map[string]PodPlan `json:"pods"`
}

// PodPlan is what one pod restores.
type PodPlan struct {
	// SourceNode is the backed-up node's host name (its pod name at backup time).
	SourceNode string `json:"sourceNode"`
	// Rack is the backed-up node's rack.
	Rack string `json:"rack,omitempty"`
	// HostID is the backed-up node's Cassandra host id.
	HostID string `json:"hostId"`
	// RestoreKey identifies the restored manifest, as the agent's marker records it:
	// <storageLocation>|<manifest key>.
	RestoreKey string `json:"restoreKey"`
	// Tokens are the source node's tokens (with More, the union of all its sources');
	// they are kept out of KeyPlan.
	Tokens []string `json:"-"`
	// More are the further backed-up nodes the pod restores when the datacenter has fewer
	// nodes than the backup: their data goes into the same data directories, their
	// tokens are in Tokens. Absent in plans of one source per pod (and in every plan
	// written before it existed).
	More []Source `json:"more,omitempty"`
}

// Source is a further backed-up node a pod restores (PodPlan.More).
type Source struct {
	// SourceNode is the backed-up node's host name.
	SourceNode string `json:"sourceNode"`
	// Rack is the backed-up node's rack.
	Rack string `json:"rack,omitempty"`
	// HostID is the backed-up node's Cassandra host id.
	HostID string `json:"hostId"`
	// ManifestKey is the bucket key of the node's manifest the pod restores.
	ManifestKey string `json:"manifestKey"`
}

// ManifestKey returns the bucket key of the manifest of the pod's first source, from
// RestoreKey.
func (pp PodPlan) ManifestKey() string {
	_, keys, _ := ParseRestoreKey(pp.RestoreKey)
	key, _, _ := strings.Cut(keys, "|")
	return key
}

// SourceNodes returns the host names of every node the pod restores, the first first.
func (pp PodPlan) SourceNodes() []string {
	out := []string{pp.SourceNode}
	for _, s := range pp.More {
		out = append(out, s.SourceNode)
	}
	return out
}

// JVMOptions returns the JVM options that make a restored node keep its tokens.
func JVMOptions(tokens []string) string {
	return "-Dcassandra.initial_token=" + strings.Join(tokens, ",") + " -Dcassandra.auto_bootstrap=false"
}

// ConfigMapName returns the name of the plan ConfigMap of a datacenter.
func ConfigMapName(datacenter string) string { return datacenter + "-restore-plan" }

// RestoreKey identifies the restore of one manifest, <storageLocation>|<manifest key>,
// or of several into one pod, <storageLocation>|<key 1>|<key 2>…. The plan records it
// per pod, the webhook annotates the pod with it and the agent's marker holds it once
// the restore is done. Manifest keys hold no "|" (layout.ValidateName).
func RestoreKey(storageLocation string, manifestKeys ...string) string {
	return storageLocation + "|" + strings.Join(manifestKeys, "|")
}

// ParseRestoreKey splits a restore key into its storage location and manifest key (with
// several sources, the "|"-separated manifest keys).
func ParseRestoreKey(key string) (storageLocation, manifestKey string, ok bool) {
	return strings.Cut(key, "|")
}

// ConfigMap returns the plan as a ConfigMap owned by dc (by the kind its TypeMeta names,
// a CassandraDataCenter when empty) and labelled with Label.
func (p *Plan) ConfigMap(dc *v1alpha1.CassandraDataCenter) (*corev1.ConfigMap, error) {
	head, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode restore plan: %w", err)
	}
	data := map[string]string{KeyPlan: string(head)}
	for pod, pp := range p.Pods {
		data[pod+SuffixTokens] = strings.Join(pp.Tokens, ",")
		data[pod+SuffixJVMOptions] = JVMOptions(pp.Tokens)
	}
	t := true
	// Owned by dc's own kind: a CassandraDataCenter, or the object it is a view of
	// (cass-operator's CassandraDatacenter, pkg/cassdc).
	apiVersion, kind := dc.APIVersion, dc.Kind
	if kind == "" {
		apiVersion, kind = v1alpha1.SchemeGroupVersion.String(), "CassandraDataCenter"
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ConfigMapName(dc.Name),
			Namespace: dc.Namespace,
			Labels:    map[string]string{Label: dc.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: apiVersion, Kind: kind,
				Name: dc.Name, UID: dc.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Data: data,
	}, nil
}

// Decode reads the plan of a plan ConfigMap, without the tokens.
func Decode(cm *corev1.ConfigMap) (*Plan, error) {
	raw, ok := cm.Data[KeyPlan]
	if !ok {
		return nil, fmt.Errorf("configmap %s/%s has no %s", cm.Namespace, cm.Name, KeyPlan)
	}
	var p Plan
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("configmap %s/%s: decode %s: %w", cm.Namespace, cm.Name, KeyPlan, err)
	}
	p.Name = cm.Name
	return &p, nil
}

// Tokens returns the tokens the plan ConfigMap holds for pod.
func Tokens(cm *corev1.ConfigMap, pod string) []string {
	s := cm.Data[pod+SuffixTokens]
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// For reports whether the plan was made for the datacenter's current spec.restore, with
// the secret defaulted the same way.
func (p *Plan) For(r *v1alpha1.RestoreSpec) bool {
	return r != nil && equality.Semantic.DeepEqual(p.Restore, *r)
}

// PodNames returns the planned pods, sorted.
func (p *Plan) PodNames() []string {
	names := make([]string, 0, len(p.Pods))
	for n := range p.Pods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
