# Deployment (deploy/, charts/seccomp-syncd/, Containerfile).  The chart is the
# source of truth and deploy/ is it rendered with the default values; Helm
# cannot be installed here, so tests/deploy/render (Go, built offline from the
# Debian packages golang-go, golang-github-masterminds-sprig-dev,
# golang-k8s-sigs-yaml-dev and golang-github-xeipuuv-gojsonschema-dev in
# GOPATH mode) reproduces `helm template`.
#   make render         re-render deploy/ after a chart change
#   make check-deploy   the deployment checks (tests/deploy/check.py)
#   make image          build the container image with podman (slow; not in `make test`)
#   make image-test     build it if needed, run `version` and `validate` in it

RENDER := $(BUILD)/deploy/render
RENDER_SRC := $(sort $(wildcard tests/deploy/render/*.go))
GO_OFFLINE := GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOENV=off CGO_ENABLED=0 \
	GOCACHE=$(abspath build/go-cache)

.PHONY: render check-deploy image image-test

$(RENDER): $(RENDER_SRC)
	@mkdir -p $(dir $@)
	$(GO_OFFLINE) go build -o $@ ./tests/deploy/render

render: $(RENDER)
	@RENDER=$(RENDER) tests/deploy/render.sh deploy

check-deploy: $(RENDER)
	@RENDER=$(RENDER) BUILD=$(BUILD) GO_OFFLINE="$(GO_OFFLINE)" $(PYTHON) tests/deploy/check.py

image:
	@tests/deploy/image.sh build

image-test: $(RENDER)
	@RENDER=$(RENDER) PYTHON=$(PYTHON) tests/deploy/image.sh test
