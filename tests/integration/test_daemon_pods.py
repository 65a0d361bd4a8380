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
import sys
import tempfile
import time

import daemonlib
from daemonlib import (ANNOT, BIN, SANDBOX_ARGS, VG_ENV, WRAP, check, daemon_env, free_port,
                       profile, run_args, wait_for)

NODE = "node-1"


AUDIT = profile("k8s-tutorial-audit.json")
VIOLATION = profile("k8s-tutorial-violation.json")
FINE = profile("k8s-tutorial-fine-grained.json")
INVALID = "{}"


def tree(kd):
    return daemonlib.tree(kd, text=True, skip_hidden=True)


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


class Cluster(daemonlib.Cluster):
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


class Daemon(daemonlib.Daemon):
    def __init__(self, c, kd, node=NODE, extra=()):
        port = free_port()
        args = WRAP + run_args(c.srv.kubeconfig, kd, port, "--log-format", "json",
                               "--log-level", "debug") + SANDBOX_ARGS
        if node:
            args += ["--node-name", node]
        args += list(extra)
        env = daemon_env()
        env.update(VG_ENV)
        super().__init__(args, port, os.path.join(c.d, "daemon-%d.log" % port), env)

    def stop(self):
        if not self.terminate(15):
            raise AssertionError("daemon did not stop on SIGTERM")
        check(self.proc.returncode == 0, "daemon exited %d:\n%s" % (
            self.proc.returncode, self.text()[-4000:]))


def expect_tree(kd, want, what):
    daemonlib.expect_tree(kd, want, what, snapshot=tree)


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
