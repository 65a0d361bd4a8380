#!/bin/sh
# The deployment checks (tests/deploy/check.py through `make check-deploy`): the chart renders,
# deploy/ is the chart rendered now, RBAC/security context/hostPath/probes/update strategy are
# what DESIGN.md asks for, the values schema rejects bad values, yamllint and kubectl kustomize
# accept deploy/.  The container image is checked separately by `make image-test` (slow).
set -eu
cd "$(dirname "$0")/../.."
: "${BUILD:=build}" "${PYTHON:=/usr/bin/python3}"
exec timeout 600 make --no-print-directory BUILD="$BUILD" PYTHON="$PYTHON" check-deploy
