//go:build tools

// Package tools pins Helm, which the chart tests in dist/chart run.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
