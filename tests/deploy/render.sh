#!/bin/sh
# Render charts/seccomp-syncd into DIR (default deploy/): the default values
# (release and namespace seccomp-syncd) into DIR, and the namespaced variant
# (the defaults plus deploy/namespaced/values.yaml) into DIR/namespaced/, each
# with a kustomization.yaml listing its files (kubectl apply -k DIR).
# The variant is rendered in full rather than being an overlay of DIR:
# kustomize refuses a base directory that contains its overlay.
# Hand-written files (deploy/namespaced/values.yaml, deploy/examples/) are never
# touched: --clean removes only files that carry the generated header.
# RENDER is the renderer binary (mk/deploy.mk builds it).
set -eu
cd "$(dirname "$0")/../.."
out=${1:-deploy}
: "${RENDER:?RENDER must name the renderer binary (make render builds it)}"
"$RENDER" charts/seccomp-syncd --output-dir "$out" --clean --kustomization
"$RENDER" charts/seccomp-syncd -f deploy/namespaced/values.yaml \
	--output-dir "$out/namespaced" --clean --kustomization
