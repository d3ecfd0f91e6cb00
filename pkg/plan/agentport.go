package plan

import (
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// The agent's port in a Cassandra pod: the sidecar serves the operations API on it, and
// while the pod restores, before the sidecar starts, the restore init container serves
// the read-only part of the same API there (the restore's progress).
const (
	// AgentPortName is the name of the container port the agent listens on.
	AgentPortName = "backup-agent"
	// DefaultAgentPort is the agent's port when no container port has that name.
	DefaultAgentPort = 4567
)

// AgentPort returns the port of the pod's container port named portName, or def.
func AgentPort(pod *corev1.Pod, portName string, def int32) int32 {
	port := def
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == portName {
				port = p.ContainerPort
			}
		}
	}
	return port
}

// AgentAddress returns http://<pod IP>:<port><path>, the port being AgentPort's.
func AgentAddress(pod *corev1.Pod, portName string, def int32, path string) (string, error) {
	if pod.Status.PodIP == "" {
		return "", fmt.Errorf("pod %s has no IP address yet", pod.Name)
	}
	port := AgentPort(pod, portName, def)
	return "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port))) + path, nil
}
