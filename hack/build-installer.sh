#!/usr/bin/env bash
# Prints the one-file install: config/default with the image set, built by the
# pinned kustomize. Used by build-installer, verify-installer and deploy.
set -euo pipefail
kustomize=$1 image=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r config "$work/"
(cd "$work/config/manager" && "$kustomize" edit set image controller="$image")
"$kustomize" build "$work/config/default"
