# The Kubernetes client's test driver: prints every k8s/loop.h callback as a JSON line
# (tests/integration/test_k8s_client.py runs it against tests/apiserver/apiserver.py).
$(BUILD)/tests/watchdump: tests/k8s-client/watchdump.c $(LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

integration: $(BUILD)/tests/watchdump
