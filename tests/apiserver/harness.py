"""Start the test API server from Python tests and talk to it.

    from harness import start_server
    srv = start_server(tmpdir, version="v1.32.4", bookmark_interval=1)
    try:
        srv.request("GET", "/api/v1/configmaps")          -> Response(status, headers, body, json)
        srv.control("http", status=429, count=1, verb="list")
        srv.stats()["clients"]
        srv.kubectl("get", "cm", "-A")                     -> subprocess.CompletedProcess
    finally:
        srv.stop()

Standard library only.  See README.md for the server's command line and control API.
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "apiserver.py")
PYTHON = os.environ.get("PYTHON") or "/usr/bin/python3"
KUBECTL = "/usr/bin/kubectl"

_FLAGS = {"port": "--port", "host": "--host", "version": "--version", "history": "--history",
          "bookmark_interval": "--bookmark-interval", "too_large_wait": "--too-large-wait",
          "rv_start": "--rv-start"}
_SWITCHES = {"no_tls": "--no-tls", "no_watch_list": "--no-watch-list", "verbose": "--verbose"}


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:200])


class Server:
    """A running apiserver.py process (see start_server)."""

    def __init__(self, proc, d, ready, log_path):
        self.proc = proc
        self.dir = d
        self.ready = ready
        self.url = ready["url"]
        self.port = ready["port"]
        self.ca = ready["ca"]
        self.kubeconfig = ready["kubeconfig"]
        self.token_file = ready["token_file"]
        self.pid = ready["pid"]
        self.log_path = log_path
        self.host = self.url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        self.tls = self.url.startswith("https:")
        self.cache_dir = tempfile.mkdtemp(prefix="kubectl-cache-", dir=d)
        self._ctx = None
        if self.tls:
            self._ctx = ssl.create_default_context(cafile=self.ca)

    @property
    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()

    # ---- HTTP ----
    def connect(self, timeout=30):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self._ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=True, timeout=30,
                content_type="application/json"):
        """One request on a fresh connection; token=True sends the current token, a string
        sends that token, None/False sends none."""
        h = {"User-Agent": "harness/1.0", "Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h["Content-Type"] = content_type
        if token is True:
            h["Authorization"] = "Bearer " + self.token
        elif token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        c = self.connect(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            c.close()

    def watch(self, path, headers=None, token=True, timeout=30):
        """Open a watch; returns (connection, response) for reading lines."""
        h = {"User-Agent": "harness/1.0", "Accept": "application/json"}
        if token is True:
            h["Authorization"] = "Bearer " + self.token
        elif token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        c = self.connect(timeout)
        c.request("GET", path, headers=h)
        return c, c.getresponse()

    def control(self, kind, **args):
        """Arm a fault: POST /_test/fault {"kind": kind, ...}; returns the decoded answer."""
        body = dict(args, kind=kind)
        r = self.request("POST", "/_test/fault", body, token=None)
        if r.status != 200:
            raise RuntimeError("fault %s failed: %d %r" % (kind, r.status, r.body))
        return r.json

    def load(self, items=None, **template):
        """Bulk create: load(items=[...]) or load(template={...}, count=N, prefix="cm-")."""
        body = dict(template)
        if items is not None:
            body["items"] = items
        r = self.request("POST", "/_test/objects", body, token=None, timeout=600)
        if r.status != 200:
            raise RuntimeError("load failed: %d %r" % (r.status, r.body))
        return r.json

    def objects(self, kind="configmaps"):
        return self.request("GET", "/_test/objects?kind=" + kind, token=None).json

    def stats(self):
        return self.request("GET", "/_test/stats", token=None).json

    def reset_stats(self):
        return self.request("POST", "/_test/stats/reset", b"", token=None).json

    def state(self):
        return self.request("GET", "/_test/state", token=None).json

    # ---- kubectl ----
    def kubectl(self, *args, input=None, timeout=60, check=False):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + \
            list(args)
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                              check=check)

    def kubectl_popen(self, *args):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + \
            list(args)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # ---- lifetime ----
    def stop(self, timeout=10):
        """SIGTERM, wait, SIGKILL if needed; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        return self.proc.returncode

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(d, timeout=30, tokens=None, **opts):
    """Start apiserver.py with --dir d (created if needed) and wait for ready.json.

    opts: port, host, no_tls, version, history, bookmark_interval, token (str or list),
    no_watch_list, too_large_wait, rv_start, verbose."""
    os.makedirs(d, exist_ok=True)
    ready_path = os.path.join(d, "ready.json")
    try:
        os.unlink(ready_path)
    except FileNotFoundError:
        pass
    cmd = [PYTHON, SERVER, "--dir", d]
    for k, v in opts.items():
        if k in _FLAGS:
            cmd += [_FLAGS[k], str(v)]
        elif k in _SWITCHES:
            if v:
                cmd.append(_SWITCHES[k])
        elif k == "token":
            for t in ([v] if isinstance(v, str) else v):
                cmd += ["--token", t]
        else:
            raise TypeError("unknown option %r" % k)
    log_path = os.path.join(d, "apiserver.log")
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            with open(log_path, errors="replace") as f:
                raise RuntimeError("apiserver exited with %d:\n%s" % (proc.returncode, f.read()))
        try:
            with open(ready_path) as f:
                ready = json.load(f)
            if ready.get("pid") == proc.pid:
                return Server(proc, d, ready, log_path)
        except (FileNotFoundError, ValueError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError("apiserver not ready after %ss" % timeout)
        time.sleep(0.02)


if __name__ == "__main__":
    # python3 harness.py DIR: start a server, print ready.json, wait for Ctrl-C
    s = start_server(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    print(json.dumps(s.ready))
    try:
        s.proc.wait()
    except KeyboardInterrupt:
        s.stop()
