#!/usr/bin/env bash
# Regenerates the CRD, RBAC and deepcopy files (and the chart's copies) and fails when that changed any of
# them: generated files must come from the markers, never from a hand edit.
set -euo pipefail
make_cmd=${1:-make}
files() { { find api config/crd/bases config/rbac dist/chart/crds dist/chart/files -name 'zz_generated.*.go' -o -name '*.yaml' 2>/dev/null || true; } | sort; }
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
files | while read -r f; do mkdir -p "$before/$(dirname "$f")"; cp "$f" "$before/$f"; done
$make_cmd -s manifests generate >/dev/null
stale=0
for f in $(files); do
  if ! cmp -s "$f" "$before/$f"; then echo "stale generated file (now regenerated, commit it): $f"; stale=1; fi
done
exit $stale
