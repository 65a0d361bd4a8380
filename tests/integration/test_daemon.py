#!/usr/bin/python3
"""`seccomp-syncd run` against the test API server, driven with the real kubectl.

Every step changes ConfigMaps (kubectl apply/annotate/label/delete, or the server's fault
and hostile-object controls), then waits until the profile tree under <kubelet-dir> equals
the expected tree byte for byte, and checks the Events (kubectl get events) and /metrics
that say what happened.  The daemon runs with its sandbox on (the normal build).

Scenarios: the demo (create), update, key removal, invalid then valid (stale), invalid
first, annotation removal and return, delete, hostile names, /readyz only after the first
sync, every injected fault, restart with files on disk (no rewrite: mtimes unchanged),
label selector transitions, namespace restriction, and --once exit codes 0, 1 and 3.
TEST_DAEMON_ONLY=main,selector,namespace,once,"server down" picks scenarios.
Everything it starts is stopped and every temp dir removed; ports are picked free and
on loopback; each wait is bounded.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import daemonlib
from daemonlib import (ANNOT, BIN, SANDBOX_ARGS, VALGRIND, VG_ENV, WRAP, check, daemon_env,
                       free_port, profile, run_args, tree, wait_for)
from daemonlib import expect_tree as _expect_tree

FAILURES = []


AUDIT = profile("k8s-tutorial-audit.json")
VIOLATION = profile("k8s-tutorial-violation.json")
FINE = profile("k8s-tutorial-fine-grained.json")
DOCKER = profile("docker-default.json")
INVALID = "{}"  # no defaultAction, no rules: a container would run unconfined


def variant(text, i):
    """The same profile with different bytes (indentation), still valid."""
    return json.dumps(json.loads(text), indent=i % 7 + 1) + "\n" * (i // 7 + 1)


def mtimes(kd):
    top = os.path.join(kd, "seccomp", "operator")
    out = {}
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, top)] = os.stat(p).st_mtime_ns
    return out


def configmap(ns, name, data, annotated=True, labels=None, binary=None):
    md = {"name": name, "namespace": ns}
    if annotated is True:
        md["annotations"] = {ANNOT: "true"}
    elif annotated:
        md["annotations"] = {ANNOT: annotated}
    if labels:
        md["labels"] = labels
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}
    if binary:
        cm["binaryData"] = binary
    return cm


class Cluster(daemonlib.Cluster):
    """The API server, kubectl, and the expected tree (the model)."""

    def __init__(self, d):
        super().__init__(d)
        # A kubeconfig that reads the token from the server's token file, so that token
        # rotation is picked up as a kubelet-projected token would be.
        self.kubeconfig = os.path.join(d, "kubeconfig-tokenfile")
        with open(self.srv.kubeconfig) as f:
            text = f.read()
        lines = []
        for line in text.splitlines():
            if line.strip().startswith("token:"):
                line = "    tokenFile: %s" % json.dumps(self.srv.token_file)
            lines.append(line)
        with open(self.kubeconfig, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.model = {}

    def apply(self, cm, expect=True):
        """kubectl apply; the model follows when @expect says the daemon should write it."""
        ns, name = cm["metadata"]["namespace"], cm["metadata"]["name"]
        self.ensure_ns(ns)
        self.kubectl("apply", "-f", "-", input=json.dumps(cm))
        return ns, name


class Daemon(daemonlib.Daemon):
    def __init__(self, cluster, kd, *extra, env=None):
        port = free_port()
        self.args = WRAP + run_args(cluster.kubeconfig, kd, port, "--node-name", "node-1",
                                    "--log-format", "json", "--log-level", "debug"
                                    ) + SANDBOX_ARGS + list(extra)
        e = daemon_env()
        e.update(VG_ENV)
        e.update(env or {})
        super().__init__(self.args, port, os.path.join(cluster.d, "daemon-%d.log" % port), e)

    def stop(self, expect_rc=0):
        if not self.terminate(15):
            raise AssertionError("daemon did not stop on SIGTERM")
        if expect_rc is not None and self.proc.returncode != expect_rc:
            raise AssertionError("daemon exited %d, want %d:\n%s" % (
                self.proc.returncode, expect_rc, self.text()[-4000:]))
        text = self.text()
        for secret in ("Bearer ", "Authorization"):
            check(secret not in text, "the log shows %r" % secret)


def expect_tree(kd, model, what):
    want = {"%s/%s/%s" % k: v.encode() if isinstance(v, str) else v for k, v in model.items()}
    _expect_tree(kd, want, what)


def scenario_main(c, d):
    """One daemon through the life of the demo ConfigMap, then faults, then a restart."""
    kd = os.path.join(d, "kubelet-main")
    os.makedirs(kd)
    m = {}
    c.ensure_ns("seccomp-operator")
    c.apply(configmap("seccomp-operator", "demo-profile",
                      {"audit.json": AUDIT, "violation.json": VIOLATION, "fine-grained.json": FINE}))
    m[("seccomp-operator", "demo-profile", "audit.json")] = AUDIT
    m[("seccomp-operator", "demo-profile", "violation.json")] = VIOLATION
    m[("seccomp-operator", "demo-profile", "fine-grained.json")] = FINE
    # Not annotated, annotated "True", and a profile in binaryData.
    c.apply(configmap("default", "plain", {"x.json": AUDIT}, annotated=False))
    c.apply(configmap("default", "capital", {"x.json": AUDIT}, annotated="True"))
    import base64
    c.apply(configmap("default", "binary", {}, binary={
        "bin.json": base64.b64encode(VIOLATION.encode()).decode()}))
    m[("default", "binary", "bin.json")] = VIOLATION

    # The first lists fail for a while: /readyz must stay 503 until the first sync.
    c.srv.control("http", status=503, count=3, verb="list", retry_after=1)
    dm = Daemon(c, kd)
    try:
        wait_for("/healthz", lambda: dm.alive() and dm.get("/healthz")[0] == 200)
        st, _ = dm.get("/readyz")
        check(st == 503, "/readyz is %d before the first sync" % st)
        check(not tree(kd), "files before the first sync")
        dm.wait_ready()
        expect_tree(kd, m, "demo profiles on disk")
        check(dm.metric('seccomp_syncd_profiles{state="valid"}') == 4, "4 valid profiles")
        check(dm.metric("seccomp_syncd_profile_writes_total") == 4, "4 writes")
        check(dm.metric("seccomp_syncd_last_full_sync_timestamp_seconds") > 0, "last sync")
        check(any(k.startswith("seccomp_syncd_api_requests_total") for k in dm.metrics()),
              "api_requests_total")
        wait_for("SavedSeccompProfile events", lambda: len(c.events(
            "seccomp-operator", "demo-profile", "SavedSeccompProfile")) == 3)
        desc = c.kubectl("describe", "configmap", "-n", "seccomp-operator", "demo-profile")
        check("SavedSeccompProfile" in desc, "describe shows the events:\n" + desc)
        for e in c.events("seccomp-operator", "demo-profile"):
            check(e["source"].get("host") == "node-1", "event source host")

        # Update one key.
        c.apply(configmap("seccomp-operator", "demo-profile",
                          {"audit.json": variant(AUDIT, 1), "violation.json": VIOLATION,
                           "fine-grained.json": FINE}))
        m[("seccomp-operator", "demo-profile", "audit.json")] = variant(AUDIT, 1)
        expect_tree(kd, m, "update")
        wait_for("sync latency observed", lambda: dm.metric(
            "seccomp_syncd_sync_latency_seconds_count") >= 1)

        # Remove a key.
        c.apply(configmap("seccomp-operator", "demo-profile",
                          {"audit.json": variant(AUDIT, 1), "fine-grained.json": FINE}))
        del m[("seccomp-operator", "demo-profile", "violation.json")]
        expect_tree(kd, m, "key removal")
        wait_for("RemovedSeccompProfile event", lambda: c.events(
            "seccomp-operator", "demo-profile", "RemovedSeccompProfile"))

        # Invalid after valid: the last good file stays (stale), a Warning names the key.
        c.apply(configmap("seccomp-operator", "demo-profile",
                          {"audit.json": variant(AUDIT, 1), "fine-grained.json": INVALID}))
        ev = wait_for("InvalidSeccompProfile event", lambda: c.events(
            "seccomp-operator", "demo-profile", "InvalidSeccompProfile"))
        check(ev[0]["type"] == "Warning", "a Warning")
        msg = ev[0]["message"]
        check("fine-grained.json" in msg and "kept" in msg and "never saw" in msg,
              "stale message: " + msg)
        expect_tree(kd, m, "invalid update keeps the last good file")
        wait_for("stale gauge", lambda: dm.metric('seccomp_syncd_profiles{state="stale"}') == 1)
        check(dm.metric("seccomp_syncd_validation_errors_total") >= 1, "validation errors")

        # Valid again.
        c.apply(configmap("seccomp-operator", "demo-profile",
                          {"audit.json": variant(AUDIT, 1), "fine-grained.json": variant(FINE, 2)}))
        m[("seccomp-operator", "demo-profile", "fine-grained.json")] = variant(FINE, 2)
        expect_tree(kd, m, "valid again")
        wait_for("no stale", lambda: dm.metric('seccomp_syncd_profiles{state="stale"}') == 0)

        # Invalid first: no file, state invalid, a Warning that says no file is written.
        c.apply(configmap("default", "bad-first", {"bad.json": INVALID, "good.json": AUDIT}))
        m[("default", "bad-first", "good.json")] = AUDIT
        expect_tree(kd, m, "invalid first")
        ev = wait_for("Warning for bad-first", lambda: c.events(
            "default", "bad-first", "InvalidSeccompProfile"))
        check("no file is written" in ev[0]["message"], ev[0]["message"])
        check(dm.metric('seccomp_syncd_profiles{state="invalid"}') == 1, "1 invalid")

        # Annotation removed, then back.
        c.kubectl("annotate", "configmap", "-n", "default", "bad-first", ANNOT + "-")
        del m[("default", "bad-first", "good.json")]
        expect_tree(kd, m, "annotation removed")
        # The file goes first, then its directory: wait for both.
        wait_for("empty directory pruned", lambda: not os.path.exists(
            os.path.join(kd, "seccomp/operator/default/bad-first")))
        c.kubectl("annotate", "configmap", "-n", "default", "bad-first", ANNOT + "=true")
        m[("default", "bad-first", "good.json")] = AUDIT
        expect_tree(kd, m, "annotation back")
        c.kubectl("annotate", "--overwrite", "configmap", "-n", "default", "bad-first",
                  ANNOT + "=yes")
        del m[("default", "bad-first", "good.json")]
        expect_tree(kd, m, "annotation changed to a value other than true")

        # Delete.
        c.kubectl("delete", "configmap", "-n", "default", "binary")
        del m[("default", "binary", "bin.json")]
        expect_tree(kd, m, "delete")

        # Hostile names: the server hands out objects the API would refuse.
        c.srv.control("hostile", namespace="default", name="../escape",
                      annotations={ANNOT: "true"}, data={"a.json": AUDIT})
        c.srv.control("hostile", namespace="default", name="hostile-key",
                      annotations={ANNOT: "true"},
                      data={"../evil.json": AUDIT, "..x": AUDIT, "ok.json": VIOLATION})
        m[("default", "hostile-key", "ok.json")] = VIOLATION
        expect_tree(kd, m, "hostile names refused")
        check(not os.path.exists(os.path.join(kd, "seccomp", "escape")), "nothing escaped")
        refused = lambda: [e for e in c.events("default", "hostile-key", "InvalidSeccompProfile")
                           if "refused key" in e["message"]]
        wait_for("a Warning per hostile key", lambda: len(refused()) >= 2)
        time.sleep(0.5)
        ev = refused()
        check(len(ev) == 2, "one Warning per hostile key: %r" % [e["message"] for e in ev])
        wait_for("refusals logged", lambda: sum(
            1 for line in dm.lines() if line.get("msg") == "name refused") >= 3)

        # An API outage keeps readiness, health and the files.
        c.srv.control("http", status=503, count=5)
        c.srv.control("drop-watches")
        time.sleep(1.5)
        check(dm.get("/readyz")[0] == 200, "/readyz 200 during an outage")
        check(dm.get("/healthz")[0] == 200, "/healthz 200 during an outage")
        c.srv.control("clear")
    finally:
        dm.stop()

    # Faults: after each one a change must still land.  Each fault gets a fresh daemon,
    # because the reflector's backoff grows with every error (up to a minute with jitter)
    # and only resets after two quiet minutes.
    faults = [
        ("drop-watches", {}),
        ("watch-error", {"code": 410}),
        ("watch-error", {"code": 500}),
        ("http", {"status": 500, "count": 2}),
        ("http", {"status": 429, "count": 1, "retry_after": 1}),
        ("garbage", {}),
        ("compact", {}),
        ("expire-continue", {}),
        ("rotate-token", {}),
        ("split", {"enabled": True}),
    ]
    c.ensure_ns("faults")
    for i, (kind, args) in enumerate(faults):
        dm = Daemon(c, kd)
        try:
            dm.wait_ready()
            c.srv.control(kind, **args)
            if kind in ("http", "garbage", "compact", "expire-continue", "rotate-token"):
                c.srv.control("drop-watches")  # so that the next request meets the fault
            c.apply(configmap("faults", "cm", {"p.json": variant(DOCKER, i)}))
            m[("faults", "cm", "p.json")] = variant(DOCKER, i)
            try:
                expect_tree(kd, m, "after fault %s %r" % (kind, args))
            except AssertionError as e:
                raise AssertionError("%s\n%s" % (e, dm.text()[-3000:]))
            if kind in ("watch-error", "compact", "garbage", "drop-watches"):
                wait_for("watch_restarts_total after %s" % kind, lambda: any(
                    k.startswith("seccomp_syncd_watch_restarts_total") for k in dm.metrics()))
            check(dm.get("/readyz")[0] == 200, "/readyz stays 200 through API trouble")
        finally:
            c.srv.control("split", enabled=False)
            c.srv.control("clear")
            dm.stop()

    # Restart with every file in place: nothing rewritten, nothing compiled.
    before = mtimes(kd)
    time.sleep(0.05)
    dm = Daemon(c, kd)
    try:
        dm.wait_ready()
        expect_tree(kd, m, "after restart")
        check(mtimes(kd) == before, "restart rewrote files")
        done = [line for line in dm.lines() if line.get("msg") == "first sync done"]
        check(done and done[0].get("checked") == "0" and done[0].get("written") == "0",
              "restart compiled or wrote: %r" % done)
        check(int(done[0].get("trusted", "0")) == len(m), "all trusted: %r" % done)
        check(dm.metric("seccomp_syncd_profile_writes_total") == 0, "no writes after restart")

        # A change while the daemon was down is applied by the first list; a ConfigMap
        # deleted while it was down is cleaned up.
    finally:
        dm.stop()
    c.kubectl("delete", "configmap", "-n", "faults", "cm")
    del m[("faults", "cm", "p.json")]
    c.apply(configmap("seccomp-operator", "demo-profile",
                      {"audit.json": AUDIT, "fine-grained.json": variant(FINE, 2)}))
    m[("seccomp-operator", "demo-profile", "audit.json")] = AUDIT
    # A leftover of a 2020 operator in a watched namespace, and a symlink that must be left.
    os.makedirs(os.path.join(kd, "seccomp/operator/default/old-operator"))
    with open(os.path.join(kd, "seccomp/operator/default/old-operator/x.json"), "w") as f:
        f.write(AUDIT)
    os.symlink("/etc/passwd", os.path.join(kd, "seccomp/operator/default/link.json"))
    dm = Daemon(c, kd)
    try:
        dm.wait_ready()
        want = dict(m)
        want_tree = {"%s/%s/%s" % k: v.encode() for k, v in want.items()}
        wait_for("healed on restart", lambda: {
            k: v for k, v in tree(kd).items() if not k.endswith("link.json")} == want_tree)
        check(os.path.islink(os.path.join(kd, "seccomp/operator/default/link.json")),
              "the symlink is left alone")
        check(any(line.get("msg") == "not a regular file, left alone" for line in dm.lines()),
              "the symlink is reported")
    finally:
        dm.stop()
    os.unlink(os.path.join(kd, "seccomp/operator/default/link.json"))


def scenario_selector(c, d):
    """--label-selector: objects entering and leaving the selection."""
    kd = os.path.join(d, "kubelet-sel")
    os.makedirs(kd)
    c.ensure_ns("sel")
    c.apply(configmap("sel", "in", {"a.json": AUDIT}, labels={"app": "seccomp"}))
    c.apply(configmap("sel", "out", {"b.json": AUDIT}, labels={"app": "other"}))
    dm = Daemon(c, kd, "--label-selector", "app=seccomp")
    try:
        dm.wait_ready()
        expect_tree(kd, {("sel", "in", "a.json"): AUDIT}, "selector: only the labelled one")
        c.kubectl("label", "--overwrite", "configmap", "-n", "sel", "in", "app=other")
        expect_tree(kd, {}, "selector: label removed")
        c.kubectl("label", "--overwrite", "configmap", "-n", "sel", "out", "app=seccomp")
        expect_tree(kd, {("sel", "out", "b.json"): AUDIT}, "selector: label added")
    finally:
        dm.stop()


def scenario_namespace(c, d):
    """--namespace: only those namespaces' directories are touched."""
    kd = os.path.join(d, "kubelet-ns")
    os.makedirs(kd)
    c.apply(configmap("ns-a", "cm", {"a.json": AUDIT}))
    c.apply(configmap("ns-b", "cm", {"b.json": AUDIT}))
    c.apply(configmap("ns-c", "cm", {"c.json": VIOLATION}))
    # Files nobody claims: the one in a watched namespace goes, the other stays.
    for ns in ("ns-a", "ns-b"):
        os.makedirs(os.path.join(kd, "seccomp/operator", ns, "stray"))
        with open(os.path.join(kd, "seccomp/operator", ns, "stray", "s.json"), "w") as f:
            f.write(AUDIT)
    dm = Daemon(c, kd, "--namespace", "ns-a", env={"SECCOMP_SYNCD_NAMESPACE": "ns-b"})
    try:
        dm.wait_ready()
        expect_tree(kd, {("ns-a", "cm", "a.json"): AUDIT, ("ns-b", "stray", "s.json"): AUDIT},
                    "namespace restriction (the flag wins over the environment)")
    finally:
        dm.stop()
    dm = Daemon(c, kd, env={"SECCOMP_SYNCD_NAMESPACE": "ns-a,ns-c"})
    try:
        dm.wait_ready()
        expect_tree(kd, {("ns-a", "cm", "a.json"): AUDIT, ("ns-c", "cm", "c.json"): VIOLATION,
                         ("ns-b", "stray", "s.json"): AUDIT}, "namespaces from the environment")
    finally:
        dm.stop()


def run_once(c, kd, *extra, kubeconfig=None):
    e = daemon_env(drop=("KUBERNETES_SERVICE_HOST",))
    e.update(VG_ENV)
    args = WRAP + [BIN, "run", "--once", "--kubeconfig", kubeconfig or c.kubeconfig,
            "--kubelet-dir", kd, "--log-format", "json"] + SANDBOX_ARGS + list(extra)
    p = subprocess.run(args, capture_output=True, text=True, timeout=240 if VALGRIND else 60,
                       env=e)
    return p.returncode, p.stderr


def scenario_once(c, d):
    kd = os.path.join(d, "kubelet-once")
    os.makedirs(kd)
    c.apply(configmap("once-ok", "cm", {"a.json": AUDIT, "b.json": FINE}))
    rc, err = run_once(c, kd, "--namespace", "once-ok")
    check(rc == 0, "--once with valid profiles: %d\n%s" % (rc, err))
    check(tree(kd) == {"once-ok/cm/a.json": AUDIT.encode(), "once-ok/cm/b.json": FINE.encode()},
          "--once wrote the profiles")
    c.apply(configmap("once-bad", "cm", {"bad.json": INVALID}))
    rc, err = run_once(c, kd, "--namespace", "once-bad")
    check(rc == 1, "--once with an invalid profile: %d\n%s" % (rc, err))

    bad = os.path.join(d, "kubeconfig-badtoken")
    with open(c.srv.kubeconfig) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write("\n".join('    token: "wrong"' if line.strip().startswith("token:") else line
                          for line in text.splitlines()) + "\n")
    rc, err = run_once(c, kd, kubeconfig=bad)
    check(rc == 3, "--once with a bad token: %d\n%s" % (rc, err))

    # Bad flags: exit 2 before touching anything.
    kd2 = os.path.join(d, "kubelet-untouched")
    rc, err = run_once(c, kd2, "--log-level", "loud")
    check(rc == 2 and "--log-level" in err, "bad flag: %d %s" % (rc, err))
    check(not os.path.exists(kd2), "a bad flag touched the kubelet dir")
    p = subprocess.run([BIN, "run", "--help"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and "SECCOMP_SYNCD_KUBELET_DIR" in p.stdout and
          "kubeletDir" in p.stdout, "--help")

    # A second instance on the same directory is refused with a clear message.
    port = free_port()
    dm = Daemon(c, kd, "--namespace", "once-ok")
    try:
        dm.wait_ready()
        rc, err = run_once(c, kd, "--listen", "127.0.0.1:%d" % port)
        check(rc == 2 and "lock" in err, "second instance: %d %s" % (rc, err))
    finally:
        dm.stop()


def scenario_server_down(c, d):
    kd = os.path.join(d, "kubelet-down")
    os.makedirs(kd)
    c.stop()
    rc, err = run_once(c, kd)
    check(rc == 3, "--once with the server down: %d\n%s" % (rc, err))


def main():
    if not os.path.exists(BIN):
        print("missing %s: build it first" % BIN)
        return 1
    d = tempfile.mkdtemp(prefix="test-daemon-")
    c = None
    try:
        c = Cluster(d)
        for name, fn in (("main", scenario_main), ("selector", scenario_selector),
                         ("namespace", scenario_namespace), ("once", scenario_once),
                         ("server down", scenario_server_down)):
            only = os.environ.get("TEST_DAEMON_ONLY")
            if only and name not in only.split(","):
                continue
            t0 = time.monotonic()
            try:
                fn(c, d)
                print("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
            except AssertionError as e:
                FAILURES.append(name)
                print("FAIL %s: %s" % (name, e))
    finally:
        if c:
            c.stop()
        shutil.rmtree(d, ignore_errors=True)
    if FAILURES:
        print("failed: %s" % ", ".join(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
