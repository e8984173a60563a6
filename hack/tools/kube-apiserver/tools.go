//go:build tools

// Package tools pins kube-apiserver (and kubectl, for machines without one) so
// `go build` can find them in this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
