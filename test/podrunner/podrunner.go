// Package podrunner runs a pod's init containers for real, on this machine, the way a
// kubelet would as far as the restore needs: each container's command runs as a local
// program (mapped by name to a binary, for example one built with `go build`), its
// environment resolved from values, $(VAR) references, the downward API and ConfigMap and
// Secret keys read from the API server, and its volume mounts mapped to local directories
// (paths in arguments and variables are rewritten to them). Results are written to the
// pod's status as a kubelet writes init-container statuses.
//
// A container runs as the user and group its securityContext names, else the pod's, with
// the pod's fsGroup and supplementalGroups as supplementary groups (setuid and setgid:
// the runner must be root for it); without ids it runs as the runner's own user. Volumes
// are prepared as a kubelet prepares them: an emptyDir is world-writable, and with an
// fsGroup a volume belongs to that group with the setgid bit, so files made in it do too.
// A container with a read-only root filesystem that runs as another user than root gets
// an unwritable HOME and TMPDIR (what it writes elsewhere outside its volumes is not
// caught); seccomp and capabilities are
// not enforced.
package podrunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// Runner runs containers of pods locally.
type Runner struct {
	// Kube reads ConfigMaps and Secrets and writes pod status.
	Kube kubernetes.Interface
	// Binaries maps a container's command (its first word) to a local program.
	Binaries map[string]string
	// Volumes maps a pod's volume name to a local directory; a volume without one gets a
	// directory under Root.
	Volumes map[string]string
	// Root holds the directories of unmapped volumes.
	Root string
	// Env is added to every container's environment, before the container's own: use it
	// for what a pod gets from its node (KUBECONFIG-like access instead of a service
	// account token, endpoints).
	Env []string
	// Timeout bounds one container; 5 minutes when 0.
	Timeout time.Duration
	// Network, when set, runs each pod's containers in a network namespace of the pod's
	// own (see podnet), made on the pod's first run and kept until Close; the pod's
	// status.podIP is its address. When nil, containers run on this machine's network.
	Network *podnet.Network

	mu   sync.Mutex
	pods map[string]*podnet.Pod // by namespace/name
}

// netPod returns the pod's network namespace, making it on first use.
func (r *Runner) netPod(pod *corev1.Pod) (*podnet.Pod, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	if p, ok := r.pods[key]; ok {
		return p, nil
	}
	p, err := r.Network.NewPod(pod.Name)
	if err != nil {
		return nil, err
	}
	if r.pods == nil {
		r.pods = map[string]*podnet.Pod{}
	}
	r.pods[key] = p
	return p, nil
}

// Close removes the network namespaces of the pods run.
func (r *Runner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, p := range r.pods {
		p.Close()
		delete(r.pods, k)
	}
}

// Result is one container's run.
type Result struct {
	// ExitCode is the program's exit code.
	ExitCode int
	// Stdout and Stderr are its output.
	Stdout, Stderr string
	// Args are the arguments it ran with, after expansion and path mapping.
	Args []string
	// Env is the environment it ran with, after resolution and path mapping.
	Env []string
}

var agentOnce struct {
	sync.Once
	path string
	err  error
}

// BuildAgent builds cmd/cassandra-backup-agent with `go build` into a temporary directory,
// once per test process, and returns the binary's path. The directory (about 120 MiB) is
// removed when the tests end, if the test binary's TestMain calls controlplane.Main.
func BuildAgent(t testing.TB) string {
	t.Helper()
	agentOnce.Do(func() {
		root, err := controlplane.RepoRoot()
		if err != nil {
			agentOnce.err = err
			return
		}
		dir, err := os.MkdirTemp("", "podrunner-agent-")
		if err != nil {
			agentOnce.err = err
			return
		}
		controlplane.AtExit(func() { os.RemoveAll(dir) })
		// Containers may run as other users: they must reach the binary.
		if err := os.Chmod(dir, 0o755); err != nil {
			agentOnce.err = err
			return
		}
		out := filepath.Join(dir, "cassandra-backup-agent")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/cassandra-backup-agent")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			agentOnce.err = fmt.Errorf("go build ./cmd/cassandra-backup-agent: %w\n%s", err, b)
			return
		}
		agentOnce.path = out
	})
	if agentOnce.err != nil {
		t.Fatalf("podrunner: %v", agentOnce.err)
	}
	return agentOnce.path
}

// volumeDir returns the local directory of a volume mount (with its subPath), creating it.
func (r *Runner) volumeDir(pod *corev1.Pod, m corev1.VolumeMount) (string, error) {
	dir, ok := r.Volumes[m.Name]
	if !ok {
		if r.Root == "" {
			return "", fmt.Errorf("volume %s of pod %s is not mapped and Runner.Root is empty", m.Name, pod.Name)
		}
		dir = filepath.Join(r.Root, pod.Namespace, pod.Name, "volumes", m.Name)
	}
	if m.SubPath != "" {
		dir = filepath.Join(dir, m.SubPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// mapper rewrites container paths under a mount to local paths, longest mount first.
type mapper []struct{ from, to string }

func (m mapper) apply(s string) string {
	for _, p := range m {
		if s == p.from {
			return p.to
		}
		if strings.HasPrefix(s, p.from+"/") {
			return p.to + s[len(p.from):]
		}
		// --flag=/path
		if i := strings.Index(s, "="+p.from); i >= 0 {
			rest := s[i+1:]
			if rest == p.from || strings.HasPrefix(rest, p.from+"/") {
				return s[:i+1] + p.to + rest[len(p.from):]
			}
		}
	}
	return s
}

func (r *Runner) mapper(pod *corev1.Pod, c corev1.Container) (mapper, error) {
	var m mapper
	for _, vm := range c.VolumeMounts {
		dir, err := r.volumeDir(pod, vm)
		if err != nil {
			return nil, err
		}
		m = append(m, struct{ from, to string }{strings.TrimSuffix(filepath.Clean(vm.MountPath), "/"), dir})
	}
	sort.Slice(m, func(i, j int) bool { return len(m[i].from) > len(m[j].from) })
	return m, nil
}

// Container returns the named container of the pod, init containers included.
func Container(pod *corev1.Pod, name string) (corev1.Container, bool) {
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name == name {
			return c, true
		}
	}
	return corev1.Container{}, false
}

// ResolveEnv resolves a container's environment as a kubelet does: values with $(VAR) references
// to earlier variables, the downward API, and ConfigMap and Secret keys. Volume paths are
// not mapped here.
func (r *Runner) ResolveEnv(ctx context.Context, pod *corev1.Pod, c corev1.Container) (map[string]string, []string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := r.Kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional {
					continue
				}
				return nil, nil, fmt.Errorf("envFrom configmap %s: %w", ef.ConfigMapRef.Name, err)
			}
			for k, v := range cm.Data {
				set(ef.Prefix+k, v)
			}
		case ef.SecretRef != nil:
			s, err := r.Kube.CoreV1().Secrets(pod.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				return nil, nil, fmt.Errorf("envFrom secret %s: %w", ef.SecretRef.Name, err)
			}
			for k, v := range s.Data {
				set(ef.Prefix+k, string(v))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, err := r.valueFrom(ctx, pod, e)
		if err != nil {
			return nil, nil, fmt.Errorf("container %s, variable %s: %w", c.Name, e.Name, err)
		}
		set(e.Name, v)
	}
	return vars, order, nil
}

func (r *Runner) valueFrom(ctx context.Context, pod *corev1.Pod, e corev1.EnvVar) (string, error) {
	src := e.ValueFrom
	switch {
	case src.FieldRef != nil:
		switch p := src.FieldRef.FieldPath; {
		case p == "metadata.name":
			return pod.Name, nil
		case p == "metadata.namespace":
			return pod.Namespace, nil
		case p == "metadata.uid":
			return string(pod.UID), nil
		case p == "spec.nodeName":
			return pod.Spec.NodeName, nil
		case p == "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, nil
		case p == "status.podIP":
			return pod.Status.PodIP, nil
		case strings.HasPrefix(p, "metadata.labels['"):
			return pod.Labels[strings.TrimSuffix(strings.TrimPrefix(p, "metadata.labels['"), "']")], nil
		case strings.HasPrefix(p, "metadata.annotations['"):
			return pod.Annotations[strings.TrimSuffix(strings.TrimPrefix(p, "metadata.annotations['"), "']")], nil
		default:
			return "", fmt.Errorf("unsupported field %s", p)
		}
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := r.Kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("configmap %s: %w", ref.Name, err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok && (ref.Optional == nil || !*ref.Optional) {
			return "", fmt.Errorf("configmap %s has no key %s", ref.Name, ref.Key)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := r.Kube.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok && (ref.Optional == nil || !*ref.Optional) {
			return "", fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key)
		}
		return string(v), nil
	}
	return "", errors.New("unsupported valueFrom")
}

// expand replaces $(VAR) with defined variables, leaves undefined references as they are
// and turns $$ into $, as a kubelet does.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Run runs one container of the pod to its end.
func (r *Runner) Run(ctx context.Context, pod *corev1.Pod, name string) (Result, error) {
	c, ok := Container(pod, name)
	if !ok {
		return Result{}, fmt.Errorf("pod %s has no container %s", pod.Name, name)
	}
	vars, order, err := r.ResolveEnv(ctx, pod, c)
	if err != nil {
		return Result{}, err
	}
	m, err := r.mapper(pod, c)
	if err != nil {
		return Result{}, err
	}
	if m, err = r.verifyTerminationMessage(pod, c, m); err != nil {
		return Result{}, err
	}
	argv := append(append([]string(nil), c.Command...), c.Args...)
	if len(c.Command) == 0 {
		return Result{}, fmt.Errorf("container %s has no command: image entrypoints are not known here", name)
	}
	for i, a := range argv {
		argv[i] = m.apply(expand(a, vars))
		// Without a pod network the containers share this machine's network: a port a
		// container would open on every address of its pod opens on loopback only.
		if rest, ok := strings.CutPrefix(argv[i], "--status-listen=:"); ok && r.Network == nil {
			argv[i] = "--status-listen=127.0.0.1:" + rest
		}
	}
	bin, ok := r.Binaries[argv[0]]
	if !ok {
		return Result{}, fmt.Errorf("no local program for command %s", argv[0])
	}
	cred, err := Credential(pod, c)
	if err != nil {
		return Result{}, err
	}
	if cred != nil {
		if err := r.prepareVolumes(pod, c); err != nil {
			return Result{}, err
		}
	}
	home := os.TempDir()
	// Only another user than root is stopped by a directory's mode.
	if cred != nil && cred.Uid != 0 && c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem {
		if home, err = r.readOnlyDir(); err != nil {
			return Result{}, err
		}
	}
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home}, r.Env...)
	for _, k := range order {
		env = append(env, k+"="+m.apply(vars[k]))
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, argv[1:]...)
	cmd.Env = env
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if r.Network != nil {
		var p *podnet.Pod
		if p, err = r.netPod(pod); err == nil {
			if err = p.Start(cmd); err == nil {
				err = cmd.Wait()
			}
		}
	} else {
		err = cmd.Run()
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Args: argv[1:], Env: env}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("run %s: %w", bin, err)
	}
	return res, nil
}

// readOnlyDir returns a directory nobody but root may write to: a container with a
// read-only root filesystem gets it as HOME and TMPDIR, so that, run as another user, a
// write outside its volumes fails as it would in the container.
func (r *Runner) readOnlyDir() (string, error) {
	if r.Root == "" {
		return "", errors.New("a read-only root filesystem needs Runner.Root")
	}
	dir := filepath.Join(r.Root, "read-only-root")
	if err := os.MkdirAll(dir, 0o555); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o555)
}

// Credential returns the user, group and supplementary groups a kubelet runs the
// container with: runAsUser and runAsGroup from the container's securityContext, else
// the pod's, and the pod's fsGroup and supplementalGroups. It returns nil when neither
// names a user (the image's user would run; here the runner's own). A user without a
// group gets group 0, as from a container runtime that finds the user in no /etc/passwd.
func Credential(pod *corev1.Pod, c corev1.Container) (*syscall.Credential, error) {
	var pc corev1.PodSecurityContext
	if pod.Spec.SecurityContext != nil {
		pc = *pod.Spec.SecurityContext
	}
	var cc corev1.SecurityContext
	if c.SecurityContext != nil {
		cc = *c.SecurityContext
	}
	uid := cc.RunAsUser
	if uid == nil {
		uid = pc.RunAsUser
	}
	if uid == nil {
		return nil, nil
	}
	gid := cc.RunAsGroup
	if gid == nil {
		gid = pc.RunAsGroup
	}
	cred := &syscall.Credential{Uid: uint32(*uid)}
	if gid != nil {
		cred.Gid = uint32(*gid)
	}
	if pc.FSGroup != nil {
		cred.Groups = append(cred.Groups, uint32(*pc.FSGroup))
	}
	for _, g := range pc.SupplementalGroups {
		cred.Groups = append(cred.Groups, uint32(g))
	}
	if cred.Groups == nil {
		cred.Groups = []uint32{} // no supplementary groups: not the runner's
	}
	if cred.Uid != uint32(os.Geteuid()) && os.Geteuid() != 0 {
		return nil, fmt.Errorf("container %s of pod %s runs as user %d: the pod runner must be root to switch to it", c.Name, pod.Name, cred.Uid)
	}
	return cred, nil
}

// prepareVolumes makes the container's volumes reachable and writable as a kubelet would
// for a container running as cred: an emptyDir is mode 0777; with an fsGroup the volume
// is chowned to the group, group-writable and setgid. Directories above a volume that lie
// in the temporary directory get g+x and o+x, so another user can reach it.
func (r *Runner) prepareVolumes(pod *corev1.Pod, c corev1.Container) error {
	tmp := filepath.Clean(os.TempDir())
	for _, vm := range c.VolumeMounts {
		base, err := r.volumeDir(pod, corev1.VolumeMount{Name: vm.Name})
		if err != nil {
			return err
		}
		dir, err := r.volumeDir(pod, vm)
		if err != nil {
			return err
		}
		for _, d := range []string{base, dir} {
			fi, err := os.Stat(d)
			if err != nil {
				return err
			}
			mode := fi.Mode().Perm()
			for _, v := range pod.Spec.Volumes {
				if v.Name == vm.Name && v.EmptyDir != nil {
					mode = 0o777
				}
			}
			if g := pod.Spec.SecurityContext; g != nil && g.FSGroup != nil {
				if err := os.Chown(d, -1, int(*g.FSGroup)); err != nil {
					return fmt.Errorf("volume %s: %w", vm.Name, err)
				}
				mode |= 0o070 | os.ModeSetgid
			}
			if err := os.Chmod(d, mode|fi.Mode()&os.ModeSetgid); err != nil {
				return fmt.Errorf("volume %s: %w", vm.Name, err)
			}
		}
		for d := filepath.Dir(base); strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				return err
			}
			if fi.Mode().Perm()&0o011 != 0o011 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RunInitContainers runs the pod's init containers in order, stopping at the first
// failure, and records each one's outcome in the pod's status as a kubelet does
// (terminated with exit code and, for a failure, the end of its output as message).
func (r *Runner) RunInitContainers(ctx context.Context, pod *corev1.Pod) ([]Result, error) {
	var results []Result
	var statuses []corev1.ContainerStatus
	if r.Network != nil {
		// As a kubelet does, the pod has its address before its first container runs.
		p, err := r.netPod(pod)
		if err != nil {
			return nil, err
		}
		pod = pod.DeepCopy()
		pod.Status.PodIP, pod.Status.PodIPs = p.IP.String(), []corev1.PodIP{{IP: p.IP.String()}}
	}
	for _, c := range pod.Spec.InitContainers {
		start := metav1.Now()
		// As a kubelet does, the container shows as running while it runs.
		running := corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}}
		if err := r.writeInitStatus(ctx, pod, append(statuses, running)); err != nil {
			return results, err
		}
		res, err := r.Run(ctx, pod, c.Name)
		if err != nil {
			return results, err
		}
		results = append(results, res)
		term := &corev1.ContainerStateTerminated{ExitCode: int32(res.ExitCode), StartedAt: start, FinishedAt: metav1.Now(), Reason: "Completed"}
		if res.ExitCode != 0 {
			term.Reason = "Error"
			msg := res.Stderr
			if len(msg) > 2048 {
				msg = msg[len(msg)-2048:]
			}
			term.Message = msg
		}
		statuses = append(statuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: res.ExitCode == 0, State: corev1.ContainerState{Terminated: term}})
		if res.ExitCode != 0 {
			break
		}
	}
	return results, r.writeInitStatus(ctx, pod, statuses)
}

// writeInitStatus writes the pod's init-container statuses, phase Pending and, on a pod
// network, its address.
func (r *Runner) writeInitStatus(ctx context.Context, pod *corev1.Pod, statuses []corev1.ContainerStatus) error {
	cur, err := r.Kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get pod %s: %w", pod.Name, err)
	}
	cur.Status.InitContainerStatuses = statuses
	cur.Status.Phase = corev1.PodPending
	if pod.Status.PodIP != "" {
		cur.Status.PodIP, cur.Status.PodIPs = pod.Status.PodIP, pod.Status.PodIPs
	}
	if _, err := r.Kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of pod %s: %w", pod.Name, err)
	}
	return nil
}
