//go:build tools

// Package tools pins the Kubernetes binaries the tests run (kube-apiserver for
// envtest; the controller manager, scheduler, kubelet and kube-proxy for the
// single-node cluster of test/cluster; kubectl, for machines without one) so
// `go build` can find them in this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
