//go:build tools

// Package tools pins kube-apiserver and kube-controller-manager for the test control
// plane: both are built from this one k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
