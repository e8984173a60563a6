#!/usr/bin/env bash
# Copies into the Helm chart what it shares with the kustomize install: the
# CRD (crds/: Helm installs it once and never deletes it), the RBAC rules and
# the Prometheus objects. Run by make manifests; verify-generated checks them.
set -euo pipefail
chart=dist/chart
rm -rf "$chart/crds" "$chart/files"
mkdir -p "$chart/crds" "$chart/files/rbac" "$chart/files/prometheus"
cp config/crd/bases/*.yaml "$chart/crds/"
for f in role leader_election_role metrics_auth_role metrics_reader_role; do
  cp "config/rbac/$f.yaml" "$chart/files/rbac/"
done
cp config/prometheus/monitor.yaml config/prometheus/rules.yaml "$chart/files/prometheus/"
