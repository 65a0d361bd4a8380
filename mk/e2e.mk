# End to end on a real node (tests/e2e/run): the daemon syncs the examples from the test API
# server, then containerd and podman (with runc) start busybox containers under the files it
# wrote.  Needs root; installs runc, containerd, podman and busybox-static when missing.
.PHONY: e2e
e2e: deps $(BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) $(PYTHON) tests/e2e/run
