//go:build tools

// Package tools pins the Kubernetes control plane the real-engine tests deploy to:
// kube-apiserver, kube-controller-manager and kube-scheduler of Kubernetes 1.36, etcd (./etcd),
// and kwok, which runs the fake nodes that report the pods Ready. scripts/build-kube builds them;
// go.sum fixes every dependency.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
