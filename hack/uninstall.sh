#!/usr/bin/env bash
# Removes the CRD (crd) or the whole install (all) in the order of
# docs/uninstall.md. It refuses while BunqPinnedCertificates exist: deleting
# the CRD deletes them, which unpins each one (or, with the operator gone,
# leaves them hanging on their finalizers).
set -euo pipefail
kubectl=$1 kustomize=$2 image=$3 what=$4
crd=bunqpinnedcertificates.bunq.pinq.dev
if "$kubectl" get crd "$crd" >/dev/null 2>&1; then
  left=$("$kubectl" get bunqpinnedcertificates --all-namespaces -o name)
  if [ -n "$left" ]; then
    echo "refusing: $(wc -l <<<"$left") BunqPinnedCertificate(s) remain:" >&2
    "$kubectl" get bunqpinnedcertificates --all-namespaces >&2
    echo "Delete them first, with the operator running (deletionPolicy Retain keeps a pin): docs/uninstall.md" >&2
    exit 1
  fi
fi
if [ "$what" = crd ]; then
  "$kustomize" build config/crd | "$kubectl" delete --ignore-not-found -f -
  exit 0
fi
manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
hack/build-installer.sh "$kustomize" "$image" >"$manifest"
# The operator first, then the CRD, then the rest and the namespace with the
# API contexts, which the namespace controller empties in the background.
"$kubectl" delete --ignore-not-found -n bunq-pinning-system deployment/bunq-pinning-controller-manager --wait
"$kustomize" build config/crd | "$kubectl" delete --ignore-not-found -f -
"$kubectl" delete --ignore-not-found --wait=false -f "$manifest"
