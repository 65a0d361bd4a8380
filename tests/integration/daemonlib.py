"""Helpers shared by the integration tests that run `seccomp-syncd run` and by
bench/bench_daemon.py: the binary, free loopback ports, bounded waits, kubectl against the
test API server (tests/apiserver/harness.py), the operator tree on disk, and a started
daemon (its log, its HTTP endpoint, /metrics, a clean stop).

Not a test itself: tests/run-integration runs only test_*.py.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))
from harness import start_server  # noqa: E402,F401

BUILD = os.environ.get("BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
BIN = os.path.join(BUILD_DIR, "seccomp-syncd")
PROFILES = os.path.join(ROOT, "tests", "data", "profiles")
ANNOT = "seccomp.security.kubernetes.io/profile"
STATE_FILE = ".seccomp-syncd"
WAIT = 30  # seconds for any one convergence
# The sandbox is on, as in production; TEST_DAEMON_NO_SANDBOX=1 turns it off to tell a
# sandbox gap from a sync bug while debugging.
SANDBOX_ARGS = ["--no-sandbox"] if os.environ.get("TEST_DAEMON_NO_SANDBOX") == "1" else []
# TEST_DAEMON_VALGRIND=1 runs every daemon under valgrind (with the sandbox extended for it,
# as SECCOMP_SYNCD_SANDBOX_EXTENDED=1 asks) and allows more time.
VALGRIND = os.environ.get("TEST_DAEMON_VALGRIND") == "1"
WRAP = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect"] if VALGRIND else []
VG_ENV = {"SECCOMP_SYNCD_SANDBOX_EXTENDED": "1"} if VALGRIND else {}
if VALGRIND:
    WAIT *= 4


def profile(name):
    with open(os.path.join(PROFILES, name), "rb") as f:
        return f.read().decode()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, cond, timeout=None, retry=(OSError, ValueError)):
    """cond's first true value, polled every 0.1 s for timeout seconds (default WAIT); an
    exception in @retry counts as not yet, any other fails at once."""
    deadline = time.monotonic() + (timeout or WAIT)
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except retry as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def tree(kd, text=False, skip_hidden=False):
    """Every file under <kd>/seccomp/operator except the state file: {relative path: bytes}.
    text: the contents decoded (bad bytes replaced); skip_hidden: leave out every path whose
    first component starts with "." (not only the state file)."""
    top = os.path.join(kd, "seccomp", "operator")
    out = {}
    for root, _dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, top)
            if rel.startswith(".") if skip_hidden else rel == STATE_FILE:
                continue
            with open(p, "rb") as fh:
                data = fh.read()
            out[rel] = data.decode(errors="replace") if text else data
    return out


def expect_tree(kd, want, what, snapshot=tree):
    """Wait until snapshot(kd) == want; on timeout say which paths differ."""
    try:
        wait_for(what, lambda: snapshot(kd) == want)
    except AssertionError:
        got = snapshot(kd)
        extra = sorted(set(got) - set(want))
        missing = sorted(set(want) - set(got))
        differ = sorted(k for k in set(got) & set(want) if got[k] != want[k])
        raise AssertionError("%s: tree differs: extra %s missing %s differ %s" % (
            what, extra, missing, differ))


def kubectl(srv, *args, input=None):
    r = srv.kubectl(*args, input=input)
    if r.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:<port><path>; an HTTP error is an answer."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(body):
    """The samples of a Prometheus text exposition: {name with labels: value}."""
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        k, v = line.rsplit(" ", 1)
        out[k] = float(v)
    return out


def daemon_env(drop=("KUBERNETES_SERVICE_HOST", "NODE_NAME")):
    """This environment without SECCOMP_SYNCD_* and the names in @drop."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("SECCOMP_SYNCD_") and k not in drop}


def run_args(kubeconfig, kd, port, *more):
    """`seccomp-syncd run` against @kubeconfig, under @kd, serving 127.0.0.1:<port>."""
    return [BIN, "run", "--kubeconfig", kubeconfig, "--kubelet-dir", kd,
            "--listen", "127.0.0.1:%d" % port] + list(more)


class Cluster:
    """The test API server under <d>/api, driven with the real kubectl."""

    def __init__(self, d):
        self.d = d
        self.srv = start_server(os.path.join(d, "api"), bookmark_interval=2)
        self.namespaces = set()

    def kubectl(self, *args, input=None):
        return kubectl(self.srv, *args, input=input)

    def ensure_ns(self, ns):
        if ns not in self.namespaces:
            self.kubectl("apply", "-f", "-", input=json.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            self.namespaces.add(ns)

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
    """A started daemon: @args run with its output in @log_path, serving 127.0.0.1:<port>."""

    def __init__(self, args, port, log_path, env):
        self.port = port
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)

    def get(self, path):
        return http_get(self.port, path)

    def metrics(self):
        st, body = self.get("/metrics")
        check(st == 200, "/metrics answered %d" % st)
        return parse_metrics(body)

    def metric(self, name, default=0.0):
        return self.metrics().get(name, default)

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("daemon exited with %s:\n%s" % (
                self.proc.returncode, self.text()[-4000:]))
        return True

    def wait_ready(self):
        wait_for("/readyz 200", lambda: self.alive() and self.get("/readyz")[0] == 200)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def lines(self, msg=None):
        """The JSON log records, only those whose msg contains @msg if given."""
        out = []
        for line in self.text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if msg is None or msg in rec.get("msg", ""):
                out.append(rec)
        return out

    def terminate(self, timeout):
        """SIGTERM, then kill after @timeout seconds; closes the log.  False if it had to be
        killed."""
        stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                stopped = False
        self.log.close()
        return stopped
