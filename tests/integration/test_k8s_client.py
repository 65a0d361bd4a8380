#!/usr/bin/python3
"""The Kubernetes client (k8s/http.c, k8s/loop.c, k8s/reflector.c, k8s/events.c) against the test
API server, over TLS with the server's kubeconfig.

$BUILD/tests/watchdump prints every loop callback as a JSON line; this test rebuilds the client's
view from them (relist_begin/object/relist_end, then ADDED/MODIFIED/DELETED) and, around every
fault, mutates objects and checks that the client ends with exactly the server's objects (name,
uid, resourceVersion).  It also checks, from the server's request log, what a well-behaved
client-go reflector would do: the first list at resourceVersion=0 with limit=500, no relist after a
clean watch timeout, Retry-After honoured, the expired continue token answered by one unpaged list,
"" after ResourceVersionTooLarge, and streaming lists with their 422 fallback.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))

from harness import start_server  # noqa: E402

BUILD = os.environ.get("BUILD") or "build"
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
WATCHDUMP = os.path.join(BUILD, "tests", "watchdump")
with open(os.path.join(ROOT, "VERSION")) as f:
    UA = "seccomp-syncd/" + f.read().strip()
CONVERGE_S = 30


def log(*a):
    print(*a, flush=True)


class Dump:
    """A watchdump process and the client-side view rebuilt from its output."""

    def __init__(self, kubeconfig, *args, stdin=True):
        cmd = [WATCHDUMP, "--kubeconfig", kubeconfig] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     text=True)
        self.lines = []
        self.lock = threading.Lock()
        self.current = {}
        self.pending = None
        self.synced = False
        self.new_lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_lines = []
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            try:
                m = json.loads(raw)
            except ValueError:
                m = {"cb": "unparsable", "raw": raw}
            with self.lock:
                self.lines.append(m)
                self._apply(m)
            self.new_lines.put(m)

    def _read_err(self):
        for raw in self.proc.stderr:
            self.err_lines.append(raw)

    def _apply(self, m):
        cb = m.get("cb")
        if cb == "relist_begin":
            self.pending = {}
        elif cb == "object":
            if self.pending is None:
                raise AssertionError("relist_object outside a relist: %r" % m)
            self.pending[(m["ns"], m["name"])] = (m["uid"], m["rv"])
        elif cb == "relist_end":
            if self.pending is None:
                raise AssertionError("relist_end without relist_begin")
            self.current = self.pending
            self.pending = None
            self.synced = True
        elif cb == "event":
            if self.pending is not None:
                raise AssertionError("watch event inside a relist: %r" % m)
            key = (m["ns"], m["name"])
            if m["type"] == "DELETED":
                self.current.pop(key, None)
            else:
                self.current[key] = (m["uid"], m["rv"])

    def snapshot(self):
        with self.lock:
            return dict(self.current), self.synced

    def seen(self, pred):
        with self.lock:
            return [m for m in self.lines if pred(m)]

    def mark(self):
        with self.lock:
            return len(self.lines)

    def since(self, mark):
        with self.lock:
            return list(self.lines[mark:])

    def wait_for(self, pred, timeout=CONVERGE_S, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for m in self.lines[start:]:
                    if pred(m):
                        return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("timed out waiting; last lines:\n%s" % "\n".join(
            json.dumps(m) for m in self.lines[-30:]))

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.err_reader.join(5)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        return self.proc.returncode


def server_set(srv):
    out = {}
    for o in srv.objects("configmaps")["items"]:
        md = o["metadata"]
        out[(md.get("namespace", ""), md["name"])] = (md["uid"], md["resourceVersion"])
    return out


def converge(srv, dump, what, timeout=CONVERGE_S):
    deadline = time.monotonic() + timeout
    while True:
        want = server_set(srv)
        have, synced = dump.snapshot()
        if synced and have == want:
            log("  ok: %s (%d objects)" % (what, len(want)))
            return
        if time.monotonic() > deadline or dump.proc.poll() is not None:
            missing = sorted(set(want) - set(have))[:5]
            extra = sorted(set(have) - set(want))[:5]
            diff = sorted(k for k in set(want) & set(have) if want[k] != have[k])[:5]
            raise AssertionError(
                "%s: client and server differ (synced=%s): missing %r, extra %r, stale %r; "
                "stderr %r; last lines:\n%s" % (
                    what, synced, missing, extra, [(k, want[k], have[k]) for k in diff],
                    dump.err_lines[-5:], "\n".join(json.dumps(m) for m in dump.lines[-20:])))
        time.sleep(0.05)


class Mutator:
    """Creates, updates and deletes ConfigMaps in a few namespaces."""

    def __init__(self, srv):
        self.srv = srv
        self.n = 0
        self.live = []
        r = srv.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "team-a"}})
        if r.status not in (201, 409):
            raise AssertionError("namespace team-a: %d %r" % (r.status, r.body[:200]))

    def _ok(self, r, what):
        if r.status >= 300:
            raise AssertionError("%s: %d %r" % (what, r.status, r.body[:300]))

    def create(self, ns="default"):
        self.n += 1
        name = "cm-%d-%d" % (id(self) % 10007, self.n)
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": ns,
                             "annotations": {"seccomp.security.kubernetes.io/profile": "true"}},
                "data": {"p.json": '{"defaultAction":"SCMP_ACT_ALLOW"}'}}
        self._ok(self.srv.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, body),
                 "create " + name)
        self.live.append((ns, name))

    def update(self):
        if not self.live:
            return
        ns, name = self.live[self.n % len(self.live)]
        patch = {"data": {"v": str(self.n)}}
        self._ok(self.srv.request("PATCH", "/api/v1/namespaces/%s/configmaps/%s" % (ns, name),
                                  patch, content_type="application/merge-patch+json"),
                 "update " + name)
        self.n += 1

    def delete(self):
        if not self.live:
            return
        ns, name = self.live.pop(0)
        self._ok(self.srv.request("DELETE", "/api/v1/namespaces/%s/configmaps/%s" % (ns, name)),
                 "delete " + name)

    def churn(self, rounds=2):
        for i in range(rounds):
            self.create("default" if i % 2 else "team-a")
            self.update()
            if len(self.live) > 4:
                self.delete()


def our_requests(srv):
    return [r for r in srv.stats()["requests"] if r.get("user_agent") == UA]


def q(r):
    return dict(urllib.parse.parse_qsl(r.get("query") or "", keep_blank_values=True))


def restarts(dump, reason, start=0):
    return [m for m in dump.since(start) if m.get("cb") == "restart" and m["reason"] == reason]


def settle(srv, timeout=CONVERGE_S):
    """Wait until the client's newest request is a watch that has been open over a second (so
    that its end is not a "very short watch") and nothing else is in flight or scheduled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = srv.stats()
        reqs = [r for r in st["requests"] if r.get("user_agent") == UA]
        if reqs and reqs[-1]["verb"] == "watch" and reqs[-1]["status"] == 200 and \
                st["watches_open"] >= 1:
            n = len(reqs)
            time.sleep(1.2)
            if len(our_requests(srv)) == n:
                return
        time.sleep(0.1)
    raise AssertionError("client did not settle on a watch")


def token_file_kubeconfig(srv, d):
    """The server's kubeconfig with the static token replaced by tokenFile: DIR/token."""
    with open(srv.kubeconfig) as f:
        lines = f.read().splitlines()
    out = []
    for ln in lines:
        if ln.strip().startswith("token:"):
            indent = ln[:len(ln) - len(ln.lstrip())]
            out.append('%stokenFile: "%s"' % (indent, srv.token_file))
        else:
            out.append(ln)
    path = os.path.join(d, "kubeconfig-tokenfile")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path


def requests_since_reset(srv):
    return [(r["verb"], r["status"]) for r in our_requests(srv)]


def verbs_since_reset(srv):
    return [r["verb"] for r in our_requests(srv)]


def wait_request(dump, code, mark):
    return dump.wait_for(lambda x: x.get("cb") == "request" and x["code"] == code, start=mark)


def wait_restart(dump, reason, mark):
    return dump.wait_for(lambda x: x.get("cb") == "restart" and x["reason"] == reason,
                         start=mark)


def next_request_after(dump, line, mark):
    return dump.wait_for(lambda x: x.get("cb") == "request" and x["t"] >= line["t"] and
                         x is not line, start=mark)


def wait_relisted(dump, mark, n=1):
    """Wait for n complete relists after mark (they follow a backoff, so convergence can come
    first when the relist changes nothing)."""
    deadline = time.monotonic() + CONVERGE_S
    while len([x for x in dump.since(mark) if x.get("cb") == "relist_end"]) < n:
        if time.monotonic() > deadline:
            raise AssertionError("no relist after mark %d" % mark)
        time.sleep(0.02)


def fault_clean_timeouts(srv, dump, m, mark):
    """Clean watch ends re-watch from the last resourceVersion and never relist."""
    t_end = time.monotonic() + 7
    while time.monotonic() < t_end:
        m.churn(1)
        time.sleep(0.5)
    converge(srv, dump, "clean watch timeouts")
    verbs = verbs_since_reset(srv)
    assert "list" not in verbs, "relisted after clean timeouts: %r" % verbs
    assert verbs.count("watch") >= 3, verbs
    assert len(restarts(dump, "timeout", mark)) >= 2
    for r in our_requests(srv):
        assert q(r).get("resourceVersion") not in (None, "", "0"), r


def fault_drop(srv, dump, m, mark):
    """A dropped connection re-watches from the last resourceVersion (no relist)."""
    m.churn(2)
    srv.control("drop-watches")
    m.churn(2)
    wait_restart(dump, "closed", mark)
    converge(srv, dump, "drop-watches")
    assert "list" not in verbs_since_reset(srv), requests_since_reset(srv)


def fault_watch_error_410(srv, dump, m, mark):
    m.churn(1)
    srv.control("watch-error", code=410)
    m.churn(2)
    wait_restart(dump, "expired", mark)
    wait_relisted(dump, mark)
    converge(srv, dump, "watch ERROR 410")
    assert "list" in verbs_since_reset(srv), requests_since_reset(srv)


def fault_watch_http_410(srv, dump, m, mark):
    srv.control("http", status=410, verb="watch", count=1)
    srv.control("drop-watches")
    m.churn(1)
    wait_request(dump, 410, mark)
    wait_restart(dump, "expired", mark)
    wait_relisted(dump, mark)
    converge(srv, dump, "watch HTTP 410")
    assert "list" in verbs_since_reset(srv), requests_since_reset(srv)


def fault_watch_429(srv, dump, m, mark):
    """429 with Retry-After: wait at least that long, re-watch without relisting."""
    srv.control("http", status=429, verb="watch", count=1, retry_after=2)
    srv.control("drop-watches")
    m.churn(1)
    t429 = wait_request(dump, 429, mark)
    nxt = next_request_after(dump, t429, mark)
    gap = nxt["t"] - t429["t"]
    assert gap >= 2000, "Retry-After 2 not honoured: next request after %d ms" % gap
    converge(srv, dump, "watch 429 Retry-After")
    assert "list" not in verbs_since_reset(srv), requests_since_reset(srv)
    assert restarts(dump, "throttled", mark)
    log("  ok: Retry-After honoured (%d ms)" % gap)


def fault_watch_5xx(srv, dump, m, mark):
    for status in (500, 504):
        mark = dump.mark()
        srv.control("http", status=status, verb="watch", count=1)
        srv.control("drop-watches")
        m.churn(1)
        wait_request(dump, status, mark)
        wait_relisted(dump, mark)
        converge(srv, dump, "watch HTTP %d" % status)
        settle(srv)
    assert verbs_since_reset(srv).count("list") == 2, requests_since_reset(srv)


def fault_list_500_retry_after(srv, dump, m, mark):
    srv.control("http", status=500, verb="list", count=1, retry_after=3)
    srv.control("watch-error", code=410)
    m.churn(1)
    t500 = wait_request(dump, 500, mark)
    nxt = next_request_after(dump, t500, mark)
    assert nxt["t"] - t500["t"] >= 3000, "list Retry-After: %d ms" % (nxt["t"] - t500["t"])
    converge(srv, dump, "list HTTP 500 Retry-After")


def fault_garbage(srv, dump, m, mark):
    srv.control("garbage", verb="watch", count=1)
    srv.control("drop-watches")
    m.churn(2)
    wait_restart(dump, "decode", mark)
    wait_relisted(dump, mark)
    converge(srv, dump, "garbage")
    assert "list" in verbs_since_reset(srv), requests_since_reset(srv)


def fault_split(srv, dump, m, mark):
    """Events split across chunks, and chunks holding several events."""
    srv.control("split", enabled=True)
    try:
        m.churn(3)
        srv.control("drop-watches")
        m.churn(3)
        srv.control("watch-error", code=410)
        m.churn(2)
        converge(srv, dump, "split")
    finally:
        srv.control("split", enabled=False)


def fault_slow(srv, dump, m, mark):
    srv.control("slow", count=3, delay_ms=20, bytes=64)
    srv.control("watch-error", code=410)
    m.churn(2)
    converge(srv, dump, "slow")
    srv.control("clear")


def fault_truncated_list(srv, dump, m, mark):
    srv.control("truncate", count=1, verb="list")
    srv.control("watch-error", code=410)
    m.churn(1)
    wait_relisted(dump, mark)
    converge(srv, dump, "truncated list")
    assert verbs_since_reset(srv).count("list") >= 2, requests_since_reset(srv)


def fault_compact(srv, dump, m, mark):
    """After compaction the re-watch from an old version gets 410 (as an ERROR, then as HTTP)."""
    for http410 in (False, True):
        srv.control("watch-410-http", enabled=http410)
        m.churn(2)
        srv.control("drop-watches")
        srv.control("compact")
        m.churn(2)
        converge(srv, dump, "compact (HTTP 410: %s)" % http410)
        settle(srv)
    srv.control("clear")


def scenario_watch_faults(srv, d):
    """Each fault on a fresh client (so that backoff starts short), mutations around it."""
    m = Mutator(srv)
    m.churn(3)
    srv.reset_stats()
    first = True
    for fn, timeout in ((fault_clean_timeouts, "2:3"), (fault_drop, "30:40"),
                        (fault_watch_error_410, "30:40"), (fault_watch_http_410, "30:40"),
                        (fault_watch_429, "30:40"), (fault_watch_5xx, "30:40"),
                        (fault_list_500_retry_after, "30:40"), (fault_garbage, "30:40"),
                        (fault_split, "30:40"), (fault_slow, "30:40"),
                        (fault_truncated_list, "30:40"), (fault_compact, "30:40")):
        dump = Dump(srv.kubeconfig, "--watch-timeout", timeout)
        try:
            converge(srv, dump, "initial list")
            if first:
                reqs = our_requests(srv)
                lq = q(reqs[0])
                assert reqs[0]["verb"] == "list" and lq.get("resourceVersion") == "0" and \
                    lq.get("limit") == "500", "first list: %r" % reqs[0]
                settle(srv)
                w = [r for r in our_requests(srv) if r["verb"] == "watch"][0]
                wq = q(w)
                assert wq.get("allowWatchBookmarks") == "true" and wq.get("resourceVersion"), wq
                assert 2 <= int(wq["timeoutSeconds"]) <= 3, wq
                first = False
            settle(srv)
            srv.reset_stats()
            log(" %s" % fn.__name__)
            fn(srv, dump, m, dump.mark())
            troubles = dump.seen(lambda x: x.get("cb") == "trouble" and x["fatal"])
            assert not troubles, troubles
            assert not dump.seen(lambda x: x.get("cb") == "unparsable")
        finally:
            rc = dump.stop()
        assert rc == 0, "watchdump exited %r: %s" % (rc, "".join(dump.err_lines[-10:]))


def scenario_paged_list(srv, d):
    """> 500 objects: TooLarge -> a paged consistent list -> its continue token expires -> one
    unpaged list."""
    srv.load(template={"kind": "ConfigMap", "metadata": {"namespace": "bulk"},
                       "data": {"k": "x" * 200}}, count=1200, prefix="bulk-")
    srv.reset_stats()
    srv.control("http", status=504, verb="list", count=1, retry_after=1)
    srv.control("slow", count=1, verb="list", match="limit=500", delay_ms=10, bytes=512)
    dump = Dump(srv.kubeconfig, "--watch-timeout", "5:6")
    try:
        # The paged list's first page answers (relist_begin) and trickles: expire its token.
        mark = 0
        dump.wait_for(lambda x: x.get("cb") == "request" and x["code"] == 504)
        begin = dump.wait_for(lambda x: x.get("cb") == "relist_begin")
        srv.control("expire-continue")
        converge(srv, dump, "paged list with an expired continue token", timeout=60)
        reqs = [r for r in our_requests(srv) if r["verb"] == "list"]
        shape = [(r["status"], q(r).get("resourceVersion"), q(r).get("limit"),
                  "continue" in q(r)) for r in reqs]
        assert shape[0] == (504, "0", "500", False), shape
        assert shape[1] == (200, None, "500", False), shape  # "" after TooLarge, paged
        assert shape[2] == (410, None, "500", True), shape  # continue page: no rv
        assert shape[3] == (200, None, None, False), shape  # one unpaged list
        assert len(shape) == 4, shape
        n_begin = len(dump.seen(lambda x: x.get("cb") == "relist_begin"))
        assert n_begin == 2, "relist_begin for the first page and the unpaged list: %d" % n_begin
        del mark, begin
    finally:
        rc = dump.stop()
    assert rc == 0, rc


def scenario_token_rotation(srv, d):
    kc = token_file_kubeconfig(srv, d)
    m = Mutator(srv)
    dump = Dump(kc, "--watch-timeout", "30:40")
    try:
        converge(srv, dump, "tokenFile client")
        mark = dump.mark()
        srv.control("rotate-token", grace_s=0)
        srv.control("drop-watches")
        m.churn(2)
        dump.wait_for(lambda x: x.get("cb") == "request" and x["code"] == 401, start=mark)
        converge(srv, dump, "token rotation")
        ok_after = [x for x in dump.since(mark) if x.get("cb") == "request" and x["code"] == 200]
        assert ok_after, "no successful request after the rotation"
        with open(srv.token_file) as f:
            tok = f.read().strip()
        err = "".join(dump.err_lines)
        out = json.dumps(dump.lines)
        assert tok not in err and tok not in out, "the token leaked into the output"
    finally:
        rc = dump.stop()
    assert rc == 0, rc


def scenario_streaming(srv, d):
    m = Mutator(srv)
    srv.control("watch-list", enabled=True)
    srv.reset_stats()
    dump = Dump(srv.kubeconfig, "--streaming", "--watch-timeout", "2:3")
    try:
        converge(srv, dump, "streaming list")
        reqs = our_requests(srv)
        first = q(reqs[0])
        assert reqs[0]["verb"] == "watch" and first.get("sendInitialEvents") == "true" and \
            first.get("resourceVersionMatch") == "NotOlderThan", reqs[0]
        assert not [r for r in reqs if r["verb"] == "list"], "streaming client listed"
        m.churn(2)
        converge(srv, dump, "streaming list, then events")
    finally:
        assert dump.stop() == 0

    srv.control("watch-list", enabled=False)
    srv.reset_stats()
    dump = Dump(srv.kubeconfig, "--streaming", "--watch-timeout", "2:3")
    try:
        converge(srv, dump, "streaming list refused: fallback")
        reqs = our_requests(srv)
        assert reqs[0]["status"] == 422 and reqs[1]["verb"] == "list", \
            [(r["verb"], r["status"]) for r in reqs]
        assert restarts(dump, "fallback")
        settle(srv)
        mark = dump.mark()
        m.churn(1)
        srv.control("watch-error", code=410)
        m.churn(1)
        wait_relisted(dump, mark)
        converge(srv, dump, "after fallback, relists are lists")
        streams = [r for r in our_requests(srv)[1:] if q(r).get("sendInitialEvents")]
        assert not streams, "tried streaming again after 422"
    finally:
        assert dump.stop() == 0
    srv.control("watch-list", enabled=True)


def scenario_once(srv, d):
    dump = Dump(srv.kubeconfig, "--once", stdin=False)
    rc = dump.proc.wait(60)
    dump.stop()
    assert rc == 0, (rc, dump.err_lines)
    have, synced = dump.snapshot()
    assert synced and have == server_set(srv)
    assert dump.seen(lambda x: x.get("cb") == "done")
    log("  ok: --once listed %d objects and exited" % len(have))

    srv.control("http", status=403, verb="list", count=1)
    dump = Dump(srv.kubeconfig, "--once", stdin=False)
    rc = dump.proc.wait(60)
    dump.stop()
    assert rc == 3, rc
    fatal = dump.seen(lambda x: x.get("cb") == "trouble" and x["fatal"])
    assert fatal and fatal[0]["err"] == -13, fatal
    log("  ok: --once fails with a fatal trouble on 403")


def scenario_events(srv, d):
    m = Mutator(srv)
    m.create("default")
    cm = srv.request("GET", "/api/v1/namespaces/default/configmaps/%s" % m.live[-1][1]).json
    md = cm["metadata"]
    dump = Dump(srv.kubeconfig, "--node", "node-1", "--watch-timeout", "30:40")
    try:
        line = "\t".join(["event", "default", "ConfigMap", md["name"], md["uid"],
                          md["resourceVersion"], "Warning", "InvalidSeccompProfile", "p.json",
                          'profile "p.json" is invalid: bad action \\ caf\u00e9'])
        dump.send(line)
        dump.wait_for(lambda x: x.get("cb") == "event_posted")
        posted = dump.seen(lambda x: x.get("cb") == "event_posted")
        assert posted[0]["code"] == 201, posted
        # Another node (or a repeat) posts the same name: 409 means done.
        dump.send(line)
        dump.wait_for(lambda x: x.get("cb") == "event_posted" and x["code"] == 409)
        evs = srv.request("GET", "/api/v1/namespaces/default/events").json["items"]
        mine = [e for e in evs if e.get("involvedObject", {}).get("uid") == md["uid"]]
        assert len(mine) == 1, mine
        e = mine[0]
        assert e["metadata"]["name"].startswith(md["name"] + "."), e["metadata"]
        assert e["reason"] == "InvalidSeccompProfile" and e["type"] == "Warning", e
        assert e["message"] == 'profile "p.json" is invalid: bad action \\ caf\u00e9', \
            e["message"]
        assert e["source"] == {"component": "seccomp-syncd", "host": "node-1"}, e["source"]
        assert e["involvedObject"]["kind"] == "ConfigMap"
        assert e["involvedObject"]["resourceVersion"] == md["resourceVersion"]
        assert e["count"] == 1 and e["reportingInstance"] == "node-1", e
        # A 429 is retried after its Retry-After.
        srv.control("http", status=429, verb="create", count=1, retry_after=1)
        dump.send(line.replace("InvalidSeccompProfile", "SavedSeccompProfile")
                  .replace("Warning", "Normal"))
        ok = dump.wait_for(lambda x: x.get("cb") == "event_posted" and x["code"] == 201 and
                           x["reason"] == "SavedSeccompProfile")
        throttled = dump.seen(lambda x: x.get("cb") == "event_posted" and x["code"] == 429)
        assert throttled and ok["t"] - throttled[0]["t"] >= 1000, (throttled, ok)
        log("  ok: events posted, 409 accepted, 429 retried")
    finally:
        assert dump.stop() == 0


def main():
    if not os.path.exists(WATCHDUMP):
        subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + BUILD, WATCHDUMP], check=True)
    d = tempfile.mkdtemp(prefix="test-k8s-client-")
    srv = None
    t0 = time.monotonic()
    try:
        srv = start_server(os.path.join(d, "srv"), bookmark_interval=1, history=5000)
        for name, fn in (("watch faults", scenario_watch_faults),
                         ("paged list", scenario_paged_list),
                         ("token rotation", scenario_token_rotation),
                         ("streaming list", scenario_streaming),
                         ("list only", scenario_once),
                         ("events", scenario_events)):
            log("%s:" % name)
            fn(srv, d)
    except Exception:
        if srv:
            log("server log tail:\n" + srv.log()[-3000:])
        raise
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)
    log("all passed in %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
