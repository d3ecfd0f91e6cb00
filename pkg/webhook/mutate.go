package webhook

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Names the mutation uses in pods.
const (
	// InitContainerName is the name of the injected restore init container.
	InitContainerName = plan.InitContainerName
	// EnvRestoreJVMOptions is the Cassandra container's variable holding the restore's JVM
	// options, read from the plan ConfigMap.
	EnvRestoreJVMOptions = "CASSANDRA_RESTORE_JVM_OPTS"
	// EnvTokensFile is the Cassandra container's variable naming the cassandra.yaml
	// fragment (auto_bootstrap, initial_token) the init container writes.
	EnvTokensFile = "CASSANDRA_RESTORE_TOKENS_FILE"
)

// Config is the operator's configuration of the injection. The zero value, with AgentImage
// set, fits pods of Instaclustr's cassandra-operator.
type Config struct {
	// AgentImage is the image of the restore init container (it holds cassandra-backup-agent).
	AgentImage string
	// ImagePullPolicy of the init container; the cluster's default when empty.
	ImagePullPolicy corev1.PullPolicy
	// CassandraContainer names the Cassandra container; "cassandra" when empty, and the
	// first container when no container has that name.
	CassandraContainer string
	// DataDir is the Cassandra data directory inside the container; /var/lib/cassandra/data
	// when empty. The volume mounted over it is the data volume.
	DataDir string
	// JVMOptionsEnv is the variable the Cassandra image adds to the JVM's options;
	// JVM_EXTRA_OPTS (read by Cassandra's cassandra-env.sh) when empty.
	JVMOptionsEnv string
	// Resources of the init container; 100m CPU and 128Mi of memory requested when empty.
	Resources corev1.ResourceRequirements
	// ExtraArgs are appended to the agent's restore arguments (for example endpoints).
	ExtraArgs []string
	// ExtraEnv is added to the init container's environment.
	ExtraEnv []corev1.EnvVar
}

func (c Config) withDefaults() Config {
	if c.CassandraContainer == "" {
		c.CassandraContainer = "cassandra"
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/cassandra/data"
	}
	c.DataDir = path.Clean(c.DataDir)
	if c.JVMOptionsEnv == "" {
		c.JVMOptionsEnv = "JVM_EXTRA_OPTS"
	}
	if len(c.Resources.Requests) == 0 && len(c.Resources.Limits) == 0 {
		c.Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		}
	}
	return c
}

// Operation is one RFC 6902 JSON patch operation.
type Operation struct {
	// Op is add, replace or remove.
	Op string `json:"op"`
	// Path is a JSON pointer.
	Path string `json:"path"`
	// Value is the value to add or replace.
	Value any `json:"value,omitempty"`
}

// Decision is the outcome of admitting one pod.
type Decision struct {
	// Allowed is false when the pod must not be created yet.
	Allowed bool
	// Message says why the pod is denied, or what was done.
	Message string
	// Patch is the JSON patch to apply; empty when the pod is admitted unchanged.
	Patch []Operation
	// Warnings are shown to the client that creates the pod.
	Warnings []string
	// EventReason, when set, asks for a Normal event with this reason and Message on the
	// pod's datacenter: an admission worth telling its owner about.
	EventReason string
}

// PatchJSON returns the patch encoded, or nil when there is none.
func (d Decision) PatchJSON() ([]byte, error) {
	if len(d.Patch) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(d.Patch)
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	return b, nil
}

func allow(msg string) Decision { return Decision{Allowed: true, Message: msg} }

func deny(format string, args ...any) Decision {
	return Decision{Allowed: false, Message: fmt.Sprintf(format, args...)}
}

// Mutate decides what to do with a pod being created: dc is the pod's datacenter (nil:
// not a pod of a known datacenter) and p its restore plan, as decoded from the plan
// ConfigMap (nil: none). It is a pure function of its arguments.
//
// A pod of a datacenter with spec.restore gets the restore init container and the token
// configuration when the plan lists it; it is denied, with a message that says why, when
// the plan is not ready; it is admitted unchanged when the plan has no source node for it.
// A pod that already has the init container is admitted unchanged. The init container
// passes the "restricted" Pod Security Standard and runs as the Cassandra container's (else
// the pod's) user and group: see securityContext.
func Mutate(pod *corev1.Pod, dc *v1alpha1.CassandraDataCenter, p *plan.Plan, cfg Config) Decision {
	if dc == nil {
		return allow("not a pod of a known CassandraDataCenter")
	}
	if dc.Spec.Restore == nil {
		return allow("datacenter " + dc.Name + " does not restore")
	}
	if restoreCompleted(dc) {
		d := allow(fmt.Sprintf("pod %s is created without a restore: the restore of datacenter %s from backup %s is COMPLETED, and a restore never runs over a live datacenter (remove spec.restore to end it)", pod.Name, dc.Name, dc.Spec.Restore.BackupName))
		d.EventReason = ReasonRestoreCompletedPodUnchanged
		return d
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == InitContainerName {
			return allow("the restore init container is already there")
		}
	}
	cfg = cfg.withDefaults()
	if p == nil {
		return deny("restore of datacenter %s from backup %s: the restore plan is not ready%s; the pod can be created once it is", dc.Name, dc.Spec.Restore.BackupName, why(dc))
	}
	if !p.For(dc.Spec.Restore) {
		return deny("restore of datacenter %s from backup %s: the restore plan is not ready (it is for backup %s)%s; the pod can be created once it is", dc.Name, dc.Spec.Restore.BackupName, p.Restore.BackupName, why(dc))
	}
	pp, ok := p.Pods[pod.Name]
	if !ok {
		return allow(fmt.Sprintf("the restore plan of datacenter %s has no source node for pod %s", dc.Name, pod.Name))
	}
	ci := cassandraContainer(pod, cfg.CassandraContainer)
	if ci < 0 {
		return deny("restore of datacenter %s: pod %s has no container", dc.Name, pod.Name)
	}
	cass := pod.Spec.Containers[ci]
	mount, ok := dataMount(cass, cfg.DataDir)
	if !ok {
		return deny("restore of datacenter %s: container %s of pod %s mounts no volume over the data directory %s", dc.Name, cass.Name, pod.Name, cfg.DataDir)
	}

	tokensFile := path.Join(mount.MountPath, "restore-tokens.yaml")
	listen := fmt.Sprintf(":%d", plan.AgentPort(pod, plan.AgentPortName, plan.DefaultAgentPort))
	init := initContainer(p, pp, mount, tokensFile, listen, cfg)
	init.SecurityContext = securityContext(pod, cass)

	var ops []Operation
	if len(pod.Spec.InitContainers) == 0 {
		ops = append(ops, Operation{Op: "add", Path: "/spec/initContainers", Value: []corev1.Container{init}})
	} else {
		ops = append(ops, Operation{Op: "add", Path: "/spec/initContainers/-", Value: init})
	}

	ops, warnings := appendTokenEnv(ops, ci, cass, p.Name, pod.Name, tokensFile, cfg)

	ann := map[string]string{plan.AnnotationRestoreKey: pp.RestoreKey, plan.AnnotationSourceNode: strings.Join(pp.SourceNodes(), ",")}
	if pod.Annotations == nil {
		ops = append(ops, Operation{Op: "add", Path: "/metadata/annotations", Value: ann})
	} else {
		for _, k := range []string{plan.AnnotationRestoreKey, plan.AnnotationSourceNode} {
			op := "add"
			if _, ok := pod.Annotations[k]; ok {
				op = "replace"
			}
			ops = append(ops, Operation{Op: op, Path: "/metadata/annotations/" + escape(k), Value: ann[k]})
		}
	}
	return Decision{
		Allowed:  true,
		Message:  fmt.Sprintf("pod %s restores node %s of backup %s", pod.Name, strings.Join(pp.SourceNodes(), ","), p.Backup),
		Patch:    ops,
		Warnings: warnings,
	}
}

// ReasonRestoreCompletedPodUnchanged is the event reason of a pod admitted unchanged
// because its datacenter's restore is COMPLETED.
const ReasonRestoreCompletedPodUnchanged = "RestoreCompletedPodUnchanged"

// restoreCompleted reports whether dc's current spec.restore has COMPLETED: its pods
// then hold live data, and a new pod (a deleted one recreated) must not restore over it.
func restoreCompleted(dc *v1alpha1.CassandraDataCenter) bool {
	st := dc.Status.Restore
	return st != nil && st.State == v1alpha1.RestoreCompleted && st.BackupName == dc.Spec.Restore.BackupName
}

// why returns the datacenter's Ready message, as "(…)", when it explains a wait.
func why(dc *v1alpha1.CassandraDataCenter) string {
	if dc.Status.Restore == nil {
		return ""
	}
	c := meta.FindStatusCondition(dc.Status.Restore.Conditions, reconciler.TypeReady)
	if c == nil || c.Message == "" {
		return ""
	}
	return ": " + c.Message
}

// cassandraContainer returns the index of the Cassandra container, or -1.
func cassandraContainer(pod *corev1.Pod, name string) int {
	for i, c := range pod.Spec.Containers {
		if c.Name == name {
			return i
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return 0
	}
	return -1
}

// dataMount returns the container's mount whose path is the longest prefix of dataDir.
func dataMount(c corev1.Container, dataDir string) (corev1.VolumeMount, bool) {
	var best corev1.VolumeMount
	found := false
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if (dataDir == mp || strings.HasPrefix(dataDir, strings.TrimSuffix(mp, "/")+"/")) && (!found || len(mp) > len(path.Clean(best.MountPath))) {
			best, found = m, true
		}
	}
	if found {
		best.ReadOnly = false
		best.MountPropagation = nil
	}
	return best, found
}

// under returns dir when it lies inside the mount, else "" (the agent then leaves it alone).
func under(mount corev1.VolumeMount, dir string) string {
	mp := path.Clean(mount.MountPath)
	if dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/") {
		return dir
	}
	return ""
}

// initContainer builds the restore init container. It carries the Secret's name only. It
// serves its progress on listen, the agent's port, free until the sidecar starts.
func initContainer(p *plan.Plan, pp plan.PodPlan, mount corev1.VolumeMount, tokensFile, listen string, cfg Config) corev1.Container {
	root := path.Dir(cfg.DataDir)
	args := plan.Args{
		StorageLocation: p.StorageLocation, SnapshotTag: p.SnapshotTag, Cluster: p.SourceCluster,
		Datacenter: p.SourceDatacenter, HostID: pp.HostID, ManifestKey: pp.ManifestKey(), NewCluster: true, DataDirs: []string{cfg.DataDir},
		IncludeAuth:    p.Restore.IncludeAuth,
		CommitLogDir:   under(mount, path.Join(root, "commitlog")),
		HintsDir:       under(mount, path.Join(root, "hints")),
		SavedCachesDir: under(mount, path.Join(root, "saved_caches")),
		TokensFile:     tokensFile,
		MarkerFile:     path.Join(cfg.DataDir, "restore_done"),
		SecretName:     p.Secret, Entities: p.Entities, Insecure: p.Insecure,
		StatusListen: listen,
	}
	for _, m := range pp.More {
		args.More = append(args.More, plan.ArgSource{HostID: m.HostID, ManifestKey: m.ManifestKey})
	}
	argv := append([]string{plan.Command}, args.Flags()...)
	argv = append(argv, cfg.ExtraArgs...)
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
	}
	env = append(env, cfg.ExtraEnv...)
	return corev1.Container{
		Name:                     InitContainerName,
		Image:                    cfg.AgentImage,
		ImagePullPolicy:          cfg.ImagePullPolicy,
		Command:                  []string{"cassandra-backup-agent"},
		Args:                     argv,
		Env:                      env,
		VolumeMounts:             []corev1.VolumeMount{mount},
		Resources:                cfg.Resources,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// securityContext returns the init container's security context: one that passes the
// "restricted" Pod Security Standard, running as the Cassandra container's user and group
// (its own securityContext, else the pod's) so that restored files are owned as
// Cassandra's own. The root filesystem is read-only: the agent writes only into the data
// volume (temporary files sit next to the files they become).
//
// Without a user id in either place the image's user runs (65532 in the agent's image),
// with runAsNonRoot so the kubelet checks it is not root; restored files are then owned
// by 65532 (and by the fsGroup's group, when the pod sets one). A user id 0 is kept, without
// runAsNonRoot: such a pod does not pass the restricted profile anyway, and the files
// must belong to root as Cassandra's do. A pod-level seccomp profile applies to the init
// container as it does to every container; without one the init container asks for
// RuntimeDefault.
func securityContext(pod *corev1.Pod, cass corev1.Container) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
	}
	var pc corev1.PodSecurityContext
	if pod.Spec.SecurityContext != nil {
		pc = *pod.Spec.SecurityContext
	}
	var cc corev1.SecurityContext
	if cass.SecurityContext != nil {
		cc = *cass.SecurityContext
	}
	sc.RunAsUser = first(cc.RunAsUser, pc.RunAsUser)
	sc.RunAsGroup = first(cc.RunAsGroup, pc.RunAsGroup)
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		sc.RunAsNonRoot = ptr.To(true)
	}
	if pc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	return sc
}

// first returns a copy of the first non-nil id, or nil.
func first(ids ...*int64) *int64 {
	for _, id := range ids {
		if id != nil {
			return ptr.To(*id)
		}
	}
	return nil
}

// appendTokenEnv points the Cassandra container's token configuration at the plan
// ConfigMap: the JVM options come from the ConfigMap key, never from the pod spec.
func appendTokenEnv(ops []Operation, ci int, c corev1.Container, planName, pod, tokensFile string, cfg Config) ([]Operation, []string) {
	base := fmt.Sprintf("/spec/containers/%d/env", ci)
	fromPlan := corev1.EnvVar{Name: EnvRestoreJVMOptions, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: planName}, Key: pod + plan.SuffixJVMOptions,
	}}}
	fragment := corev1.EnvVar{Name: EnvTokensFile, Value: tokensFile}
	ref := "$(" + EnvRestoreJVMOptions + ")"
	var warnings []string
	jvm := -1
	for i, e := range c.Env {
		if e.Name == cfg.JVMOptionsEnv {
			jvm = i
		}
	}
	if len(c.Env) == 0 {
		return append(ops, Operation{Op: "add", Path: base, Value: []corev1.EnvVar{fromPlan, fragment, {Name: cfg.JVMOptionsEnv, Value: ref}}}), nil
	}
	// The plan's variable goes first so that $(…) in a later variable expands to it.
	ops = append(ops,
		Operation{Op: "add", Path: base + "/0", Value: fromPlan},
		Operation{Op: "add", Path: base + "/-", Value: fragment})
	switch {
	case jvm < 0:
		ops = append(ops, Operation{Op: "add", Path: base + "/-", Value: corev1.EnvVar{Name: cfg.JVMOptionsEnv, Value: ref}})
	case c.Env[jvm].ValueFrom == nil:
		v := strings.TrimSpace(c.Env[jvm].Value + " " + ref)
		// Indexes shift by one: the plan's variable was inserted at 0.
		ops = append(ops, Operation{Op: "replace", Path: fmt.Sprintf("%s/%d/value", base, jvm+1), Value: v})
	default:
		warnings = append(warnings, fmt.Sprintf("%s of container %s is set from a reference; the restore's JVM options are in %s and the token configuration in %s", cfg.JVMOptionsEnv, c.Name, EnvRestoreJVMOptions, tokensFile))
	}
	return ops, warnings
}

// escape escapes a JSON pointer segment.
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
