#!/usr/bin/python3
"""Pods on this node: in-use retention and reference checks, against the test API server.

The daemon runs with --node-name node-1 and watches Pods with fieldSelector
spec.nodeName=node-1.  Pods are created with the real kubectl (`kubectl apply`, spec.nodeName
set), their phase set with a merge patch on status (the test server never runs pods).

Scenarios:
  retention  a ConfigMap deleted while a running pod on this node uses its profile: the file
             stays (retained gauge, log line, SeccompProfileRetained on the pod); a restart of
             the daemon in the middle keeps it (derived again from the pod list, no state
             file); deleting the pod removes it.  The same for a key removed from a ConfigMap
             (the Event goes on the ConfigMap, which still exists) and a pod that finishes
             (phase Succeeded).  A pod being deleted (deletionTimestamp) still counts; pods on
             other nodes never count.  A retained file is replaced only by valid content.
  checks     a typo'd path gets one Warning SeccompProfileNotFound with the closest existing
             path ("did you mean ..."), shown by `kubectl describe pod`; a pod using an
             invalid profile gets InvalidSeccompProfile naming the ConfigMap; a pod using only
             the legacy annotations gets DeprecatedSeccompAnnotation; a restart posts nothing
             new (deterministic Event names).
  off        without --node-name the feature is off (logged once) and a deleted ConfigMap's
             files go even if a pod references them.
TEST_DAEMON_PODS_ONLY=retention,checks,off picks scenarios.  Everything started is stopped,
every temp dir removed, ports are free loopback ports, every wait is bounded.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))
from harness import start_server  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
BIN = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD), "seccomp-syncd")
PROFILES = os.path.join(ROOT, "tests", "data", "profiles")
ANNOT = "seccomp.security.kubernetes.io/profile"
NODE = "node-1"
WAIT = 30
SANDBOX_ARGS = ["--no-sandbox"] if os.environ.get("TEST_DAEMON_NO_SANDBOX") == "1" else []
VALGRIND = os.environ.get("TEST_DAEMON_VALGRIND") == "1"
WRAP = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect"] if VALGRIND else []
VG_ENV = {"SECCOMP_SYNCD_SANDBOX_EXTENDED": "1"} if VALGRIND else {}
if VALGRIND:
    WAIT *= 4


def profile(name):
    with open(os.path.join(PROFILES, name), "rb") as f:
        return f.read().decode()


AUDIT = profile("k8s-tutorial-audit.json")
VIOLATION = profile("k8s-tutorial-violation.json")
FINE = profile("k8s-tutorial-fine-grained.json")
INVALID = "{}"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, cond, timeout=None):
    deadline = time.monotonic() + (timeout or WAIT)
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ValueError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def tree(kd):
    top = os.path.join(kd, "seccomp", "operator")
    out = {}
    for root, _dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, top)
            if rel.startswith("."):
                continue
            with open(p, "rb") as fh:
                out[rel] = fh.read().decode(errors="replace")
    return out


def configmap(ns, name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "annotations": {ANNOT: "true"}},
            "data": data}


def pod(ns, name, node=NODE, pod_profile=None, containers=None, annotations=None,
        init=None):
    """A pod; containers is {name: localhostProfile or None}."""
    def sc(path):
        return {"seccompProfile": {"type": "Localhost", "localhostProfile": path}}
    spec = {"nodeName": node, "containers": []}
    for cname, path in (containers or {"app": None}).items():
        c = {"name": cname, "image": "registry.example/app:1"}
        if path:
            c["securityContext"] = sc(path)
        spec["containers"].append(c)
    for cname, path in (init or {}).items():
        spec.setdefault("initContainers", []).append(
            {"name": cname, "image": "registry.example/init:1", "securityContext": sc(path)})
    if pod_profile:
        spec["securityContext"] = sc(pod_profile)
    md = {"name": name, "namespace": ns}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


class Cluster:
    def __init__(self, d):
        self.d = d
        self.srv = start_server(os.path.join(d, "api"), bookmark_interval=2)
        self.namespaces = set()

    def kubectl(self, *args, input=None):
        r = self.srv.kubectl(*args, input=input)
        if r.returncode != 0:
            raise AssertionError("kubectl %s failed: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def ensure_ns(self, ns):
        if ns not in self.namespaces:
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            self.namespaces.add(ns)

    def apply(self, obj):
        ns = obj["metadata"].get("namespace")
        if ns:
            self.ensure_ns(ns)
        self.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def phase(self, ns, name, phase):
        self.kubectl("patch", "pod", name, "-n", ns, "--type=merge", "-p",
                     json.dumps({"status": {"phase": phase}}))
        got = json.loads(self.kubectl("get", "pod", name, "-n", ns, "-o", "json"))
        check(got["status"]["phase"] == phase, "pod %s/%s phase %r" % (
            ns, name, got["status"].get("phase")))

    def events(self, ns, name=None, reason=None, kind=None):
        out = json.loads(self.kubectl("get", "events", "-n", ns, "-o", "json"))
        evs = []
        for e in out.get("items", []):
            io = e.get("involvedObject", {})
            if name and io.get("name") != name:
                continue
            if kind and io.get("kind") != kind:
                continue
            if reason and e.get("reason") != reason:
                continue
            evs.append(e)
        return evs

    def stop(self):
        self.srv.stop()


class Daemon:
    def __init__(self, c, kd, node=NODE, extra=()):
        self.port = free_port()
        self.log_path = os.path.join(c.d, "daemon-%d.log" % self.port)
        args = WRAP + [BIN, "run", "--kubeconfig", c.srv.kubeconfig, "--kubelet-dir", kd,
                       "--listen", "127.0.0.1:%d" % self.port, "--log-format", "json",
                       "--log-level", "debug"] + SANDBOX_ARGS
        if node:
            args += ["--node-name", node]
        args += list(extra)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("SECCOMP_SYNCD_") or k in ("KUBERNETES_SERVICE_HOST", "NODE_NAME"):
                del env[k]
        env.update(VG_ENV)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("daemon exited with %s:\n%s" % (
                self.proc.returncode, self.text()[-4000:]))
        return True

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                        timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        st, body = self.get("/metrics")
        check(st == 200, "/metrics answered %d" % st)
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def wait_ready(self):
        wait_for("/readyz 200", lambda: self.alive() and self.get("/readyz")[0] == 200)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def lines(self, msg=None):
        out = []
        for line in self.text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if msg is None or msg in rec.get("msg", ""):
                out.append(rec)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                raise AssertionError("daemon did not stop on SIGTERM")
        self.log.close()
        check(self.proc.returncode == 0, "daemon exited %d:\n%s" % (
            self.proc.returncode, self.text()[-4000:]))


def expect_tree(kd, want, what):
    try:
        wait_for(what, lambda: tree(kd) == want)
    except AssertionError:
        got = tree(kd)
        raise AssertionError("%s: tree differs: extra %s missing %s differ %s" % (
            what, sorted(set(got) - set(want)), sorted(set(want) - set(got)),
            sorted(k for k in set(got) & set(want) if got[k] != want[k])))


def settle(kd, want, what, seconds=2.0):
    """The tree stays as it is for a while (nothing removed behind our back)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check(tree(kd) == want, "%s: tree changed: %s" % (what, sorted(tree(kd))))
        time.sleep(0.1)


RETAINED = 'seccomp_syncd_profiles{state="retained"}'


def scenario_retention(c, d):
    kd = os.path.join(d, "kubelet-retention")
    os.makedirs(kd)
    c.apply(configmap("apps", "prof", {"a.json": AUDIT, "b.json": VIOLATION}))
    c.apply(configmap("apps", "keys", {"k1.json": AUDIT, "k2.json": FINE}))
    c.apply(configmap("apps", "gone", {"g.json": FINE}))
    want = {"apps/prof/a.json": AUDIT, "apps/prof/b.json": VIOLATION,
            "apps/keys/k1.json": AUDIT, "apps/keys/k2.json": FINE, "apps/gone/g.json": FINE}
    # web uses a.json from a container; elsewhere (another node) uses b.json; job uses k1
    # from an init container and stays Pending; dying uses g.json and is being deleted.
    c.apply(pod("apps", "web", containers={"app": "operator/apps/prof/a.json"}))
    c.phase("apps", "web", "Running")
    c.apply(pod("apps", "elsewhere", node="node-2", pod_profile="operator/apps/prof/b.json"))
    c.phase("apps", "elsewhere", "Running")
    c.apply(pod("apps", "job", init={"setup": "operator/apps/keys/k1.json"}))
    c.srv.control("hostile", resource="pods", namespace="apps", name="dying", object={
        "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                     "deletionGracePeriodSeconds": 30},
        "spec": pod("apps", "dying", pod_profile="./operator//apps/gone/g.json")["spec"],
        "status": {"phase": "Running"}})

    dm = Daemon(c, kd)
    try:
        dm.wait_ready()
        expect_tree(kd, want, "first sync")
        check(not dm.lines("pods on this node: off"), "feature on with --node-name")

        # Pods on other nodes never count.
        c.apply(configmap("apps", "prof", {"a.json": AUDIT}))
        del want["apps/prof/b.json"]
        expect_tree(kd, want, "b.json (used only on node-2) removed")
        check(dm.metric(RETAINED) == 0, "nothing retained yet")

        # The ConfigMap goes; web runs: a.json stays.
        c.kubectl("delete", "configmap", "-n", "apps", "prof")
        wait_for("retained gauge 1", lambda: dm.metric(RETAINED) == 1)
        settle(kd, want, "a.json retained")
        wait_for("retention log line", lambda: [
            r for r in dm.lines("retained") if "a.json" in json.dumps(r)])
        ev = wait_for("SeccompProfileRetained on the pod", lambda: c.events(
            "apps", "web", "SeccompProfileRetained", kind="Pod"))
        check(ev[0]["type"] == "Normal", "a Normal event")
        check("operator/apps/prof/a.json" in ev[0]["message"], ev[0]["message"])

        # The same for a key removed from a ConfigMap that still exists; the Event goes on it.
        c.apply(configmap("apps", "keys", {"k2.json": FINE}))
        wait_for("retained gauge 2", lambda: dm.metric(RETAINED) == 2)
        settle(kd, want, "k1.json retained")
        ev = wait_for("SeccompProfileRetained on the configmap", lambda: c.events(
            "apps", "keys", "SeccompProfileRetained", kind="ConfigMap"))
        check("k1.json" in ev[0]["message"] and "apps/job" in ev[0]["message"],
              ev[0]["message"])

        # The ConfigMap of a pod being deleted goes: the pod still runs, the file stays.
        c.kubectl("delete", "configmap", "-n", "apps", "gone")
        wait_for("retained gauge 3", lambda: dm.metric(RETAINED) == 3)
        settle(kd, want, "g.json retained for a pod being deleted")
    finally:
        dm.stop()

    # A restart in the middle: retention is derived again from the pod list.  The first pod
    # lists fail for a while: nothing may be removed before the pods have been listed.
    c.srv.reset_stats()
    c.srv.control("http", status=503, count=3, verb="list", match="pods", retry_after=1)
    dm = Daemon(c, kd)
    try:
        wait_for("configmaps listed", lambda: dm.alive() and [
            r for r in c.srv.stats().get("requests", [])
            if "/configmaps" in r.get("path", "") and r.get("status") == 200])
        settle(kd, want, "nothing removed while the pod list fails", 2.5)
        dm.wait_ready()
        pod_lists = [r for r in c.srv.stats().get("requests", [])
                     if r.get("path") == "/api/v1/pods"]
        check(pod_lists and all("fieldSelector=spec.nodeName%3Dnode-1" in r.get("query", "")
                                or "fieldSelector=spec.nodeName=node-1" in r.get("query", "")
                                for r in pod_lists), "pods filtered server-side: %s" % pod_lists)
        check(any(r.get("status") == 503 for r in pod_lists), "the injected failures happened")
        wait_for("retained gauge 3 after restart", lambda: dm.metric(RETAINED) == 3)
        settle(kd, want, "retention survives a restart")

        # The pod goes: so does the file.
        c.kubectl("delete", "pod", "-n", "apps", "web")
        del want["apps/prof/a.json"]
        expect_tree(kd, want, "a.json removed with its last pod")
        wait_for("retained gauge 2", lambda: dm.metric(RETAINED) == 2)
        wait_for("retention end logged", lambda: [
            r for r in dm.lines("no longer retained") if "a.json" in json.dumps(r)])

        # A pod that finishes releases its file too.
        c.phase("apps", "job", "Succeeded")
        del want["apps/keys/k1.json"]
        expect_tree(kd, want, "k1.json removed when its pod succeeded")
        wait_for("RemovedSeccompProfile on the configmap", lambda: [
            e for e in c.events("apps", "keys", "RemovedSeccompProfile")
            if "k1.json" in e["message"]])

        # A retained file and a new ConfigMap of the same name: invalid content does not
        # replace it; valid content is simply the new desired content.
        c.apply(configmap("apps", "gone", {"g.json": INVALID}))
        wait_for("InvalidSeccompProfile on the new gone", lambda: c.events(
            "apps", "gone", "InvalidSeccompProfile"))
        settle(kd, want, "retained g.json not replaced by invalid content")
        c.apply(configmap("apps", "gone", {"g.json": AUDIT}))
        want["apps/gone/g.json"] = AUDIT
        expect_tree(kd, want, "valid content replaces the retained file")
        wait_for("retained gauge 0", lambda: dm.metric(RETAINED) == 0)
        c.kubectl("delete", "pod", "-n", "apps", "dying")
        settle(kd, want, "g.json wanted by its ConfigMap again", 1.0)
    finally:
        dm.stop()


def scenario_checks(c, d):
    kd = os.path.join(d, "kubelet-checks")
    os.makedirs(kd)
    c.apply(configmap("shop", "profiles", {"audit.json": AUDIT, "block.json": VIOLATION}))
    c.apply(configmap("shop", "broken", {"bad.json": INVALID}))
    c.apply(pod("shop", "typo", containers={"app": "operator/shop/profile/audit.json"}))
    c.phase("shop", "typo", "Running")
    c.apply(pod("shop", "fine", containers={"app": "operator/shop/profiles/block.json"}))
    c.apply(pod("shop", "uses-bad", pod_profile="operator/shop/broken/bad.json"))
    c.apply(pod("shop", "legacy", annotations={
        "container.seccomp.security.alpha.kubernetes.io/app":
            "localhost/operator/shop/profiles/audit.json"}))
    c.apply(pod("shop", "far", containers={"app": "operator/elsewhere/x/y.json"}))
    c.apply(pod("shop", "other-node", node="node-2",
                containers={"app": "operator/shop/nope/nope.json"}))

    dm = Daemon(c, kd)
    try:
        dm.wait_ready()
        ev = wait_for("SeccompProfileNotFound on typo", lambda: c.events(
            "shop", "typo", "SeccompProfileNotFound", kind="Pod"))
        msg = ev[0]["message"]
        check(ev[0]["type"] == "Warning", "a Warning")
        check("operator/shop/profile/audit.json" in msg, msg)
        check("did you mean operator/shop/profiles/audit.json" in msg, msg)
        check(os.path.join(kd, "seccomp", "operator/shop/profile/audit.json") in msg, msg)
        desc = c.kubectl("describe", "pod", "-n", "shop", "typo")
        check("SeccompProfileNotFound" in desc and "did you mean" in desc,
              "describe shows it:\n" + desc)

        ev = wait_for("SeccompProfileNotFound on far", lambda: c.events(
            "shop", "far", "SeccompProfileNotFound", kind="Pod"))
        check("did you mean" not in ev[0]["message"], "no suggestion when nothing is close: "
              + ev[0]["message"])

        ev = wait_for("InvalidSeccompProfile on uses-bad", lambda: c.events(
            "shop", "uses-bad", "InvalidSeccompProfile", kind="Pod"))
        check("shop/broken" in ev[0]["message"] and ev[0]["type"] == "Warning",
              ev[0]["message"])

        ev = wait_for("DeprecatedSeccompAnnotation on legacy", lambda: c.events(
            "shop", "legacy", "DeprecatedSeccompAnnotation", kind="Pod"))
        check("1.27" in ev[0]["message"] and ev[0]["type"] == "Warning", ev[0]["message"])

        # A pod created later with a wrong path is reported too.
        c.apply(pod("shop", "late", containers={"app": "operator/shop/profiles/blok.json"}))
        ev = wait_for("SeccompProfileNotFound on late", lambda: c.events(
            "shop", "late", "SeccompProfileNotFound", kind="Pod"))
        check("did you mean operator/shop/profiles/block.json" in ev[0]["message"],
              ev[0]["message"])
        time.sleep(1.5)
    finally:
        dm.stop()

    check(not c.events("shop", "fine", kind="Pod"), "nothing about a pod that is fine")
    check(not c.events("shop", "other-node", kind="Pod"), "nothing about other nodes' pods")
    before = sorted(e["metadata"]["name"] for e in c.events("shop", kind="Pod"))
    check(len(c.events("shop", "typo", kind="Pod")) == 1, "one event for typo")

    # A restart: the same findings, the same Event names: nothing new.
    dm = Daemon(c, kd)
    try:
        dm.wait_ready()
        time.sleep(3)
    finally:
        dm.stop()
    after = sorted(e["metadata"]["name"] for e in c.events("shop", kind="Pod"))
    check(after == before, "no new pod events after a restart: %s vs %s" % (after, before))


def scenario_off(c, d):
    kd = os.path.join(d, "kubelet-off")
    os.makedirs(kd)
    c.apply(configmap("offns", "p", {"a.json": AUDIT}))
    c.apply(pod("offns", "user", containers={"app": "operator/offns/p/a.json"}))
    c.phase("offns", "user", "Running")
    c.srv.reset_stats()
    dm = Daemon(c, kd, node=None, extra=["--namespace", "offns"])
    try:
        dm.wait_ready()
        expect_tree(kd, {"offns/p/a.json": AUDIT}, "written")
        check(len(dm.lines("pods on this node: off")) == 1, "feature off logged once")
        c.kubectl("delete", "configmap", "-n", "offns", "p")
        expect_tree(kd, {}, "removed although a pod uses it (feature off)")
        stats = c.srv.stats()
        daemon_reqs = [r for r in stats.get("requests", [])
                       if not r.get("user_agent", "").startswith("kubectl")]
        check(daemon_reqs and not [r for r in daemon_reqs if "/pods" in r.get("path", "")],
              "no pod requests without --node-name: %s" % daemon_reqs[:5])
    finally:
        dm.stop()


SCENARIOS = [("retention", scenario_retention), ("checks", scenario_checks),
             ("off", scenario_off)]


def main():
    if not os.access(BIN, os.X_OK):
        print("test_daemon_pods: %s not built" % BIN, file=sys.stderr)
        return 1
    only = [s for s in os.environ.get("TEST_DAEMON_PODS_ONLY", "").split(",") if s]
    failures = []
    d = tempfile.mkdtemp(prefix="syncd-pods-")
    c = None
    try:
        c = Cluster(d)
        for name, fn in SCENARIOS:
            if only and name not in only:
                continue
            t0 = time.monotonic()
            try:
                fn(c, d)
                print("ok   %s (%.1f s)" % (name, time.monotonic() - t0))
            except AssertionError as e:
                failures.append(name)
                print("FAIL %s: %s" % (name, e))
    finally:
        if c:
            c.stop()
        if failures and os.environ.get("TEST_KEEP"):
            print("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
