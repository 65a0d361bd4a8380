#!/usr/bin/python3
"""The daemon's own seccomp allow-list against the real daemon, under strace.

`seccomp-syncd run` (sandbox on, as in production) syncs, updates and removes a profile,
posts an Event for an invalid one, answers /healthz, /readyz and /metrics, survives a
watch restart and stops on SIGTERM, all while strace -f records every syscall of every
thread.  A syscall the allow-list missed does not crash the daemon (default action
ERRNO(EPERM)), so it could go unnoticed; here every EPERM or ENOSYS returned after the
filter is loaded fails the test, except clone3's ENOSYS, which is the filter's design
(glibc then uses clone, whose flags the filter can check).

Everything started is stopped and the temp dir removed; ports are free loopback ports;
every wait is bounded.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import daemonlib
from daemonlib import ANNOT, BIN, ROOT, daemon_env, free_port, http_get, kubectl, run_args
from daemonlib import start_server

STRACE = shutil.which("strace") or "/usr/bin/strace"
WAIT = 30

with open(os.path.join(ROOT, "tests", "data", "profiles", "k8s-tutorial-audit.json")) as f:
    AUDIT = f.read()
with open(os.path.join(ROOT, "tests", "data", "profiles", "k8s-tutorial-violation.json")) as f:
    VIOLATION = f.read()


def wait_for(what, cond):
    # Always WAIT (also under TEST_DAEMON_VALGRIND); only an OSError means "not yet".
    daemonlib.wait_for(what, cond, timeout=WAIT, retry=(OSError,))


def configmap(name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "sbx", "annotations": {ANNOT: "true"}},
            "data": data}


# "1234  openat2(5, "x", ...) = -1 EPERM (Operation not permitted)"
REFUSED = re.compile(r"^(\d+)\s+(\w+)\(.*= -1 (EPERM|ENOSYS) ")


def refused_after_filter(log_path):
    """Syscalls refused with EPERM/ENOSYS after seccomp_load, as (pid, name, errno)."""
    out = []
    loaded = False
    with open(log_path, errors="replace") as f:
        for line in f:
            if not loaded:
                # libseccomp loads with seccomp(SECCOMP_SET_MODE_FILTER, ...) = 0
                if "seccomp(SECCOMP_SET_MODE_FILTER" in line and line.rstrip().endswith("= 0"):
                    loaded = True
                continue
            m = REFUSED.match(line)
            if m and not (m.group(2) == "clone3" and m.group(3) == "ENOSYS"):
                out.append((m.group(1), m.group(2), m.group(3), line.strip()[:300]))
    if not loaded:
        raise AssertionError("the daemon never loaded its seccomp filter (see %s)" % log_path)
    return out


def main():
    if not os.access(BIN, os.X_OK):
        raise AssertionError("no binary at %s: build it first" % BIN)
    if not os.access(STRACE, os.X_OK):
        raise AssertionError("strace missing: install the Debian package strace "
                             "(scripts/install-deps)")
    d = tempfile.mkdtemp(prefix="test-sandbox-syscalls-")
    srv = None
    proc = None
    log = None
    try:
        srv = start_server(os.path.join(d, "api"), bookmark_interval=2)
        kubectl(srv, "apply", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sbx"}}))
        kubectl(srv, "apply", "-f", "-", input=json.dumps(configmap("cm", {"a.json": AUDIT})))

        kd = os.path.join(d, "kubelet")
        os.makedirs(kd)
        port = free_port()
        trace = os.path.join(d, "strace.log")
        env = daemon_env()
        log = open(os.path.join(d, "daemon.log"), "wb")
        proc = subprocess.Popen(
            [STRACE, "-f", "-qq", "-s", "64", "-o", trace] + run_args(
                srv.kubeconfig, kd, port, "--node-name", "node-1",
                "--log-format", "json", "--log-level", "debug"),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

        target = os.path.join(kd, "seccomp", "operator", "sbx", "cm", "a.json")

        def alive():
            if proc.poll() is not None:
                raise AssertionError("daemon exited with %s" % proc.returncode)
            return True

        wait_for("/readyz 200", lambda: alive() and http_get(port, "/readyz")[0] == 200)
        wait_for("a.json on disk", lambda: os.path.exists(target))
        st, body = http_get(port, "/metrics")
        assert st == 200 and "seccomp_syncd_profile_writes_total" in body, (st, body[:200])
        assert http_get(port, "/healthz")[0] == 200

        # update, an invalid key (an Event is posted), a watch restart, then delete
        kubectl(srv, "apply", "-f", "-", input=json.dumps(
            configmap("cm", {"a.json": VIOLATION, "bad.json": "{}"})))
        wait_for("a.json updated", lambda: open(target).read() == VIOLATION)
        srv.control("drop-watches")
        kubectl(srv, "apply", "-f", "-", input=json.dumps(configmap("cm2", {"b.json": AUDIT})))
        wait_for("b.json on disk", lambda: os.path.exists(
            os.path.join(kd, "seccomp", "operator", "sbx", "cm2", "b.json")))
        kubectl(srv, "delete", "configmap", "-n", "sbx", "cm")
        wait_for("a.json removed", lambda: not os.path.exists(target))
        assert http_get(port, "/readyz")[0] == 200

        # SIGTERM to the daemon itself (strace's child); strace exits with its status
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            daemon_pid = int(f.read().split()[0])
        os.kill(daemon_pid, signal.SIGTERM)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            raise AssertionError("daemon did not stop on SIGTERM")
        proc = None
        assert rc == 0, "daemon exited %d on SIGTERM" % rc

        refused = refused_after_filter(trace)
        if refused:
            for pid, name, err, line in refused[:40]:
                print("refused: %s %s (%s): %s" % (name, err, pid, line))
            names = sorted({r[1] for r in refused})
            raise AssertionError("the allow-list refused: %s" % ", ".join(names))
        print("ok: no syscall refused after the filter was loaded")
        return 0
    except AssertionError as e:
        print("FAIL: %s" % e)
        if log:
            log.flush()
            with open(os.path.join(d, "daemon.log"), errors="replace") as f:
                print(f.read()[-3000:])
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if log:
            log.close()
        if srv:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
