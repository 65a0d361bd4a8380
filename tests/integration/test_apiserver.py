#!/usr/bin/python3
"""Raw-HTTP tests of the test API server (tests/apiserver/apiserver.py).

Each test talks HTTP/1.1 over TLS to a server on a free loopback port in a temporary directory
and checks what a client can observe: status codes, Status objects, chunk framing, watch events.
"""

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))
import harness  # noqa: E402

SRV = None
TMP = None


def setUpModule():
    global SRV, TMP
    TMP = tempfile.mkdtemp(prefix="test-apiserver-")
    SRV = harness.start_server(os.path.join(TMP, "main"), bookmark_interval=0.5,
                               too_large_wait=0.3)


def tearDownModule():
    if SRV is not None:
        SRV.stop()
    shutil.rmtree(TMP, ignore_errors=True)


class RawStream:
    """A hand-rolled HTTP/1.1 client that exposes the chunk framing of a response."""

    def __init__(self, srv, path, token=True, method="GET", timeout=15, headers=None):
        sock = socket.create_connection((srv.host, srv.port), timeout=timeout)
        if srv.tls:
            sock = srv._ctx.wrap_socket(sock, server_hostname=srv.host)
        self.sock = sock
        h = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (srv.host, srv.port),
             "User-Agent: raw-test/1.0", "Accept: application/json"]
        if token is True:
            h.append("Authorization: Bearer " + srv.token)
        elif token:
            h.append("Authorization: Bearer " + token)
        for k, v in (headers or {}).items():
            h.append("%s: %s" % (k, v))
        sock.sendall(("\r\n".join(h) + "\r\n\r\n").encode())
        self.f = sock.makefile("rb")
        line = self.f.readline()
        self.status = int(line.split()[1])
        self.headers = {}
        while True:
            line = self.f.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, v = line.decode().split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.chunk_sizes = []
        self.clean_end = False
        self.abrupt = False
        self.buf = b""
        self.body = None
        if "chunked" not in self.headers.get("transfer-encoding", ""):
            self.body = self.f.read(int(self.headers.get("content-length", "0")))

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def json(self):
        return json.loads(self.body)

    def next_chunk(self):
        """One chunk's data, or None at the end (clean_end/abrupt say which end)."""
        try:
            line = self.f.readline()
        except (OSError, ValueError):
            line = b""
        if not line:
            self.abrupt = True
            return None
        n = int(line.split(b";")[0], 16)
        if n == 0:
            self.f.readline()
            self.clean_end = True
            return None
        data = self.f.read(n)
        crlf = self.f.read(2)
        if len(data) != n or crlf != b"\r\n":
            self.abrupt = True
            return None
        self.chunk_sizes.append(n)
        return data

    def read_all(self):
        while True:
            c = self.next_chunk()
            if c is None:
                return self.buf
            self.buf += c

    def events(self, n, timeout=10):
        """Read until n complete event lines arrived (fewer if the stream ends)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            while b"\n" in self.buf and len(out) < n:
                line, self.buf = self.buf.split(b"\n", 1)
                out.append(json.loads(line))
            if len(out) >= n:
                break
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %d events, got %r" % (n, out))
            c = self.next_chunk()
            if c is None:
                break
            self.buf += c
        return out


def api(method, path, body=None, ctype="application/json", **kw):
    return SRV.request(method, path, body, content_type=ctype, **kw)


_NS_SEQ = [0]


def new_ns(prefix="t"):
    _NS_SEQ[0] += 1
    name = "%s-%d-%d" % (prefix, os.getpid() % 10000, _NS_SEQ[0])
    r = api("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert r.status == 201, r
    return name


def mk_cm(ns, name, data=None, labels=None, annotations=None):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    r = api("POST", "/api/v1/namespaces/%s/configmaps" % ns,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {"k": "v"}})
    assert r.status == 201, r
    return r.json


def patch_cm(ns, name, patch, ctype="application/merge-patch+json"):
    return api("PATCH", "/api/v1/namespaces/%s/configmaps/%s" % (ns, name), patch, ctype)


class Base(unittest.TestCase):
    def tearDown(self):
        SRV.control("clear")
        SRV.control("watch-list", enabled=True)

    def assertStatus(self, r, code, reason):
        self.assertEqual(r.status, code, r)
        st = r.json
        self.assertEqual(st["kind"], "Status")
        self.assertEqual(st["apiVersion"], "v1")
        self.assertEqual(st["metadata"], {})
        self.assertEqual(st["status"], "Failure")
        self.assertEqual(st["code"], code)
        self.assertEqual(st.get("reason"), reason)
        self.assertTrue(st["message"])
        return st


class TestDiscovery(Base):
    def test_version_and_health(self):
        v = api("GET", "/version", token=None).json
        self.assertEqual((v["major"], v["minor"]), ("1", "32"))
        self.assertTrue(v["gitVersion"].startswith("v1.32."))
        for p in ("/healthz", "/readyz", "/livez"):
            r = api("GET", p)
            self.assertEqual((r.status, r.body), (200, b"ok"))

    def test_api_resources(self):
        self.assertEqual(api("GET", "/api").json["versions"], ["v1"])
        rl = api("GET", "/api/v1").json
        self.assertEqual(rl["kind"], "APIResourceList")
        by = {r["name"]: r for r in rl["resources"]}
        for name, kind, short, nsd in (("configmaps", "ConfigMap", "cm", True),
                                       ("pods", "Pod", "po", True),
                                       ("events", "Event", "ev", True),
                                       ("namespaces", "Namespace", "ns", False)):
            self.assertEqual(by[name]["kind"], kind)
            self.assertEqual(by[name]["shortNames"], [short])
            self.assertEqual(by[name]["namespaced"], nsd)
            self.assertIn("watch", by[name]["verbs"])
        self.assertEqual(api("GET", "/apis").json["groups"], [])
        idx = api("GET", "/openapi/v3").json
        url = idx["paths"]["api/v1"]["serverRelativeURL"]
        doc = api("GET", url).json
        p = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
        self.assertIn("fieldValidation", [x["name"] for x in p["parameters"]])
        self.assertEqual(api("GET", "/apis/events.k8s.io").status, 404)


class TestAuth(Base):
    def test_tokens(self):
        ns = new_ns()
        path = "/api/v1/namespaces/%s/configmaps" % ns
        self.assertStatus(api("GET", path, token=None), 401, "Unauthorized")
        self.assertStatus(api("GET", path, token="wrong"), 401, "Unauthorized")
        self.assertEqual(api("GET", path).status, 200)

    def test_plain_http_on_tls_port(self):
        c = socket.create_connection((SRV.host, SRV.port), timeout=5)
        c.sendall(b"GET /api/v1/configmaps HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
        c.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)
        self.assertIn(b"Client sent an HTTP request to an HTTPS server.", data)
        # the control API answers over plain HTTP too
        c = socket.create_connection((SRV.host, SRV.port), timeout=5)
        c.sendall(b"GET /_test/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
        c.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)


class TestCrud(Base):
    def test_create_get_conflicts(self):
        ns = new_ns()
        cm = mk_cm(ns, "a", {"x": "1"})
        md = cm["metadata"]
        self.assertEqual((cm["kind"], cm["apiVersion"]), ("ConfigMap", "v1"))
        self.assertEqual(len(md["uid"]), 36)
        self.assertTrue(md["resourceVersion"].isdigit())
        self.assertRegex(md["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        base = "/api/v1/namespaces/%s/configmaps" % ns
        st = self.assertStatus(api("POST", base, {"metadata": {"name": "a"}}), 409, "AlreadyExists")
        self.assertEqual(st["details"], {"name": "a", "kind": "configmaps"})
        self.assertEqual(st["message"], 'configmaps "a" already exists')
        st = self.assertStatus(api("GET", base + "/nope"), 404, "NotFound")
        self.assertEqual(st["message"], 'configmaps "nope" not found')
        # update with a stale resourceVersion
        stale = dict(cm, data={"x": "2"})
        r = api("PUT", base + "/a", stale)
        self.assertEqual(r.status, 200, r)
        rv2 = r.json["metadata"]["resourceVersion"]
        self.assertNotEqual(rv2, md["resourceVersion"])
        st = self.assertStatus(api("PUT", base + "/a", stale), 409, "Conflict")
        self.assertIn("the object has been modified", st["message"])
        # a no-op update keeps the resourceVersion
        r = api("PUT", base + "/a", r.json)
        self.assertEqual(r.json["metadata"]["resourceVersion"], rv2)
        # name mismatch, missing namespace
        self.assertStatus(api("PUT", base + "/a", dict(cm, metadata={"name": "b"})), 400,
                          "BadRequest")
        self.assertStatus(api("POST", "/api/v1/namespaces/no-such-ns/configmaps",
                              {"metadata": {"name": "x"}}), 404, "NotFound")
        # delete answers a Success Status; a second delete is 404
        r = api("DELETE", base + "/a")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "Success")
        self.assertEqual(r.json["details"]["uid"], md["uid"])
        self.assertStatus(api("DELETE", base + "/a"), 404, "NotFound")

    def test_validation(self):
        ns = new_ns()
        base = "/api/v1/namespaces/%s/configmaps" % ns
        for name in ("Bad_Name", "../x", "a/b", "x" * 254, "-a"):
            st = self.assertStatus(api("POST", base, {"metadata": {"name": name}}), 422, "Invalid")
            self.assertEqual(st["details"]["kind"], "ConfigMap")
            self.assertEqual(st["details"]["causes"][0]["field"], "metadata.name")
        st = self.assertStatus(api("POST", base, {"metadata": {"name": "k"},
                                                  "data": {"../etc": "x"}}), 422, "Invalid")
        self.assertEqual(st["details"]["causes"][0]["field"], "data[../etc]")
        big = {"a": "x" * (600 * 1024), "b": "y" * (600 * 1024)}
        self.assertStatus(api("POST", base, {"metadata": {"name": "big"}, "data": big}), 422,
                          "Invalid")
        self.assertStatus(api("POST", base, {"metadata": {"name": "num"}, "data": {"a": 1}}),
                          400, "BadRequest")
        r = api("POST", base, b"x" * (3 * 1024 * 1024 + 10))
        self.assertStatus(r, 413, "RequestEntityTooLarge")
        st = self.assertStatus(api("POST", base + "?fieldValidation=Strict",
                                   {"metadata": {"name": "s"}, "bogus": 1}), 400, "BadRequest")
        self.assertIn('unknown field "bogus"', st["message"])
        r = api("POST", base, {"metadata": {"name": "w"}, "bogus": 1})
        self.assertEqual(r.status, 201)
        self.assertIn("bogus", r.headers.get("warning", ""))
        # immutable ConfigMaps
        mk = api("POST", base, {"metadata": {"name": "imm"}, "data": {"a": "1"}, "immutable": True})
        self.assertEqual(mk.status, 201)
        self.assertStatus(patch_cm(ns, "imm", {"data": {"a": "2"}}), 422, "Invalid")

    def test_patch_types(self):
        ns = new_ns()
        mk_cm(ns, "p", {"a": "1"}, labels={"l": "1"})
        r = patch_cm(ns, "p", {"data": {"b": "2", "a": None}})
        self.assertEqual(r.json["data"], {"b": "2"})
        r = patch_cm(ns, "p", {"data": {"c": "3"}, "$setElementOrder/x": []},
                     "application/strategic-merge-patch+json")
        self.assertEqual(r.json["data"], {"b": "2", "c": "3"})
        r = patch_cm(ns, "p", [{"op": "add", "path": "/data/d~1e", "value": "4"},
                               {"op": "remove", "path": "/data/b"},
                               {"op": "test", "path": "/data/c", "value": "3"}],
                     "application/json-patch+json")
        st = self.assertStatus(r, 422, "Invalid")  # "d/e" is not a valid ConfigMap key
        self.assertEqual(st["details"]["causes"][0]["field"], "data[d/e]")
        r = patch_cm(ns, "p", [{"op": "add", "path": "/data/d", "value": "4"},
                               {"op": "remove", "path": "/data/b"}], "application/json-patch+json")
        self.assertEqual(r.json["data"], {"c": "3", "d": "4"})
        r = patch_cm(ns, "p", [{"op": "test", "path": "/data/c", "value": "9"}],
                     "application/json-patch+json")
        self.assertEqual(r.status, 422)
        self.assertEqual(patch_cm(ns, "p", {"data": {}}, "text/plain").status, 415)
        st = self.assertStatus(patch_cm(ns, "p", {"metadata": {"resourceVersion": "1"},
                                                  "data": {"z": "1"}}), 409, "Conflict")
        self.assertIn("modified", st["message"])
        self.assertStatus(patch_cm(ns, "nope", {"data": {}}), 404, "NotFound")

    def test_server_side_apply(self):
        ns = new_ns()
        path = "/api/v1/namespaces/%s/configmaps/ssa" % ns
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"},
               "data": {"a": "1", "b": "2"}}
        ctype = "application/apply-patch+yaml"
        self.assertStatus(api("PATCH", path, doc, ctype), 400, "BadRequest")
        r = api("PATCH", path + "?fieldManager=m1", doc, ctype)
        self.assertEqual(r.status, 201, r)
        doc["data"] = {"a": "3"}
        r = api("PATCH", path + "?fieldManager=m1", doc, ctype)
        self.assertEqual((r.status, r.json["data"]), (200, {"a": "3"}))
        # another manager's value conflicts unless forced
        r = api("PATCH", path + "?fieldManager=m2", dict(doc, data={"a": "4"}), ctype)
        self.assertStatus(r, 409, "Conflict")
        r = api("PATCH", path + "?fieldManager=m2&force=true", dict(doc, data={"a": "4",
                                                                            "c": "5"}), ctype)
        self.assertEqual(r.json["data"], {"a": "4", "c": "5"})

    def test_protobuf_bodies(self):
        # kubectl's typed clients (create configmap/namespace) send the protobuf envelope
        def ld(n, b):
            return bytes([n << 3 | 2, len(b)]) + b
        ns = new_ns()
        cm = ld(1, ld(1, b"pb")) + ld(2, ld(1, b"k") + ld(2, b"v")) + ld(
            3, ld(1, b"bin") + ld(2, b"\x00\xff"))
        body = b"k8s\x00" + ld(1, ld(1, b"v1") + ld(2, b"ConfigMap")) + ld(2, cm)
        base = "/api/v1/namespaces/%s/configmaps" % ns
        ctype = "application/vnd.kubernetes.protobuf"
        r = api("POST", base, body, ctype)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["data"], {"k": "v"})
        self.assertEqual(r.json["binaryData"], {"bin": "AP8="})
        self.assertEqual(api("POST", base, b"k8s\x00\x0a\x02\x08\x01", ctype).status, 415)
        self.assertStatus(api("POST", base, b"k8s\x00\x0a\x05\x0a", ctype), 400, "BadRequest")
        self.assertStatus(api("POST", base, b"\x0a\x00", ctype), 400, "BadRequest")

    def test_deletecollection_and_dry_run(self):
        ns = new_ns()
        for i in range(3):
            mk_cm(ns, "d%d" % i, labels={"g": "x" if i < 2 else "y"})
        base = "/api/v1/namespaces/%s/configmaps" % ns
        r = api("POST", base + "?dryRun=All", {"metadata": {"name": "dry"}})
        self.assertEqual(r.status, 201)
        self.assertEqual(api("GET", base + "/dry").status, 404)
        r = api("DELETE", base + "?labelSelector=g%3Dx")
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["d0", "d1"])
        self.assertEqual([i["metadata"]["name"] for i in api("GET", base).json["items"]], ["d2"])

    def test_events_and_pods(self):
        ns = new_ns()
        cm = mk_cm(ns, "owner")
        ev = {"metadata": {"name": "owner.1"}, "involvedObject": {
            "apiVersion": "v1", "kind": "ConfigMap", "namespace": ns, "name": "owner",
            "uid": cm["metadata"]["uid"]}, "reason": "SavedSeccompProfile", "message": "m",
            "type": "Normal", "source": {"component": "c", "host": "n1"}, "count": 1}
        self.assertEqual(api("POST", "/api/v1/namespaces/%s/events" % ns, ev).status, 201)
        self.assertStatus(api("POST", "/api/v1/namespaces/%s/events" % ns, ev), 409,
                          "AlreadyExists")
        q = "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.uid%%3D%s" % (
            ns, cm["metadata"]["uid"])
        self.assertEqual(len(api("GET", q).json["items"]), 1)
        for node, phase in (("n1", "Running"), ("n2", "Pending"), ("n1", "Pending")):
            r = api("POST", "/api/v1/namespaces/%s/pods" % ns, {
                "metadata": {"generateName": "p-"}, "spec": {"nodeName": node, "containers": [
                    {"name": "c", "image": "busybox"}]}, "status": {"phase": phase}})
            self.assertEqual(r.status, 201, r)
        r = api("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")
        self.assertEqual(len([p for p in r.json["items"] if p["metadata"]["namespace"] == ns]), 2)
        r = api("GET", "/api/v1/namespaces/%s/pods?fieldSelector=spec.nodeName%%3Dn1,"
                       "status.phase%%3DRunning" % ns)
        self.assertEqual(len(r.json["items"]), 1)
        st = self.assertStatus(api("GET", "/api/v1/configmaps?fieldSelector=spec.nodeName%3Dn1"),
                               400, "BadRequest")
        self.assertIn("not a known field selector", st["message"])


class TestSelectors(Base):
    def test_label_selectors(self):
        ns = new_ns()
        mk_cm(ns, "a", labels={"app": "x", "tier": "web"})
        mk_cm(ns, "b", labels={"app": "y"})
        mk_cm(ns, "c")
        base = "/api/v1/namespaces/%s/configmaps?labelSelector=" % ns
        cases = {"app=x": ["a"], "app==x": ["a"], "app!=x": ["b", "c"],
                 "app in (x,y)": ["a", "b"], "app notin (x)": ["b", "c"], "app": ["a", "b"],
                 "!app": ["c"], "app,tier=web": ["a"], "": ["a", "b", "c"]}
        for sel, want in cases.items():
            r = api("GET", base + sel.replace(" ", "%20"))
            self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], want, sel)
        for bad in ("app=(", "a%20b", "in%20(x)", "app%20in%20x", "app=x,"):
            self.assertStatus(api("GET", base + bad), 400, "BadRequest")

    def test_field_selectors(self):
        ns = new_ns()
        mk_cm(ns, "a")
        mk_cm(ns, "b")
        r = api("GET", "/api/v1/configmaps?fieldSelector=metadata.name%%3Db,"
                       "metadata.namespace%%3D%s" % ns)
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["b"])
        r = api("GET", "/api/v1/namespaces/%s/configmaps?fieldSelector=metadata.name!%%3Db" % ns)
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["a"])


class TestList(Base):
    def test_paging_is_consistent(self):
        ns = new_ns()
        for i in range(25):
            mk_cm(ns, "c%02d" % i)
        base = "/api/v1/namespaces/%s/configmaps" % ns
        r = api("GET", base + "?limit=10").json
        self.assertNotIn("kind", r["items"][0])
        self.assertEqual(r["kind"], "ConfigMapList")
        rv = r["metadata"]["resourceVersion"]
        self.assertEqual(r["metadata"]["remainingItemCount"], 15)
        names = [i["metadata"]["name"] for i in r["items"]]
        # writes between pages must not show up: the pages are served at the first page's RV
        mk_cm(ns, "c10a")
        patch_cm(ns, "c15", {"data": {"k": "changed"}})
        api("DELETE", base + "/c20")
        cont = r["metadata"]["continue"]
        self.assertStatus(api("GET", base + "?limit=10&resourceVersion=%s&continue=%s"
                              % (rv, cont)), 400, "BadRequest")
        pages = 1
        while cont:
            r = api("GET", base + "?limit=10&continue=" + cont).json
            self.assertEqual(r["metadata"]["resourceVersion"], rv)
            pages += 1
            for i in r["items"]:
                names.append(i["metadata"]["name"])
                if i["metadata"]["name"] == "c15":
                    self.assertEqual(i["data"], {"k": "v"})
            cont = r["metadata"].get("continue")
        self.assertEqual(pages, 3)
        self.assertEqual(names, ["c%02d" % i for i in range(25)])
        # a fresh list sees the writes
        now = [i["metadata"]["name"] for i in api("GET", base).json["items"]]
        self.assertIn("c10a", now)
        self.assertNotIn("c20", now)

    def test_gzip_like_api_response_compression(self):
        import gzip
        ns = new_ns()
        for i in range(8):
            mk_cm(ns, "z%d" % i, {"k": "x" * 20000})
        base = "/api/v1/namespaces/%s/configmaps" % ns
        r = api("GET", base, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(r.headers.get("content-encoding"), "gzip")
        self.assertEqual(len(json.loads(gzip.decompress(r.body))["items"]), 8)
        r = api("GET", base + "?limit=1", headers={"Accept-Encoding": "gzip"})
        self.assertNotIn("content-encoding", r.headers)  # small: not compressed
        r = api("GET", base)
        self.assertNotIn("content-encoding", r.headers)  # not asked for
        s = RawStream(SRV, base + "?watch=true&timeoutSeconds=1",
                      headers={"Accept-Encoding": "gzip"})
        self.assertNotIn("content-encoding", s.headers)  # never on watches
        self.assertEqual(len(s.events(8)), 8)
        s.close()

    def test_expired_continue(self):
        ns = new_ns()
        for i in range(3):
            mk_cm(ns, "e%d" % i)
        base = "/api/v1/namespaces/%s/configmaps" % ns
        r = api("GET", base + "?limit=1").json
        SRV.control("expire-continue")
        st = self.assertStatus(api("GET", base + "?limit=1&continue=" + r["metadata"]["continue"]),
                               410, "Expired")
        self.assertIn("continue parameter is too old", st["message"])
        # a new list works and pages fine
        r = api("GET", base + "?limit=1").json
        self.assertEqual(api("GET", base + "?limit=1&continue=" + r["metadata"]["continue"]).status,
                         200)
        self.assertStatus(api("GET", base + "?limit=1&continue=garbage!"), 400, "BadRequest")

    def test_resource_version_semantics(self):
        ns = new_ns()
        for i in range(4):
            mk_cm(ns, "r%d" % i)
        base = "/api/v1/namespaces/%s/configmaps" % ns
        r = api("GET", base + "?resourceVersion=0&limit=2").json
        self.assertEqual(len(r["items"]), 4)  # the watch cache ignores limit for RV 0
        self.assertNotIn("continue", r["metadata"])
        old_rv = r["metadata"]["resourceVersion"]
        mk_cm(ns, "r9")
        r = api("GET", base + "?resourceVersion=%s&resourceVersionMatch=Exact" % old_rv).json
        self.assertEqual(len(r["items"]), 4)
        self.assertEqual(r["metadata"]["resourceVersion"], old_rv)
        r = api("GET", base + "?resourceVersion=%s&limit=10" % old_rv).json
        self.assertEqual(len(r["items"]), 4)
        r = api("GET", base + "?resourceVersion=%s" % old_rv).json  # not older than
        self.assertEqual(len(r["items"]), 5)
        big = str(int(old_rv) + 100000)
        for q in ("?resourceVersion=%s" % big, "?resourceVersion=%s&limit=5" % big):
            r = api("GET", base + q)
            st = self.assertStatus(r, 504, "Timeout")
            self.assertEqual(st["details"]["causes"][0]["reason"], "ResourceVersionTooLarge")
            self.assertTrue(r.headers.get("retry-after"))
        st = self.assertStatus(api("GET", base + "?resourceVersionMatch=Exact"), 422, "Invalid")
        self.assertEqual(st["details"]["kind"], "ListOptions")
        self.assertStatus(api("GET", base + "?resourceVersion=abc"), 400, "BadRequest")


class TestWatch(Base):
    def watch(self, path, **kw):
        s = RawStream(SRV, path, **kw)
        self.addCleanup(s.close)
        return s

    def test_events_and_clean_timeout(self):
        ns = new_ns()
        cm = mk_cm(ns, "w")
        rv = cm["metadata"]["resourceVersion"]
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%s"
                       "&timeoutSeconds=3" % (ns, rv))
        self.assertEqual(s.status, 200)
        self.assertEqual(s.headers["transfer-encoding"], "chunked")
        patch_cm(ns, "w", {"data": {"k": "2"}})
        api("DELETE", "/api/v1/namespaces/%s/configmaps/w" % ns)
        evs = s.events(2)
        self.assertEqual([e["type"] for e in evs], ["MODIFIED", "DELETED"])
        for e in evs:
            self.assertEqual((e["object"]["kind"], e["object"]["apiVersion"]), ("ConfigMap", "v1"))
        self.assertGreater(int(evs[1]["object"]["metadata"]["resourceVersion"]),
                           int(evs[0]["object"]["metadata"]["resourceVersion"]))
        t = time.monotonic()
        s.read_all()
        self.assertTrue(s.clean_end)
        self.assertLess(time.monotonic() - t, 5)

    def test_watch_without_rv_sends_state(self):
        ns = new_ns()
        mk_cm(ns, "a")
        mk_cm(ns, "b")
        for q in ("", "&resourceVersion=0"):
            s = self.watch("/api/v1/namespaces/%s/configmaps?watch=1%s" % (ns, q))
            evs = s.events(2)
            self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                             [("ADDED", "a"), ("ADDED", "b")])
        s = self.watch("/api/v1/watch/namespaces/%s/configmaps/b" % ns)
        self.assertEqual([e["object"]["metadata"]["name"] for e in s.events(1)], ["b"])

    def test_bookmarks(self):
        ns = new_ns()
        cm = mk_cm(ns, "b")
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&allowWatchBookmarks=true"
                       "&resourceVersion=%s&timeoutSeconds=4" % (ns, cm["metadata"]["resourceVersion"]))
        evs = s.events(2)
        for e in evs:
            self.assertEqual(e["type"], "BOOKMARK")
            self.assertEqual(set(e["object"]), {"kind", "apiVersion", "metadata"})
            self.assertEqual(list(e["object"]["metadata"]), ["resourceVersion"])
        s.read_all()
        self.assertTrue(s.clean_end)
        # without allowWatchBookmarks: none
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%s"
                       "&timeoutSeconds=2" % (ns, cm["metadata"]["resourceVersion"]))
        self.assertEqual(s.read_all(), b"")

    def test_pre_timeout_bookmark(self):
        d = os.path.join(TMP, "bm")
        srv = harness.start_server(d, bookmark_interval=60)
        try:
            r = srv.request("GET", "/api/v1/configmaps").json
            s = RawStream(srv, "/api/v1/configmaps?watch=true&allowWatchBookmarks=true"
                          "&resourceVersion=%s&timeoutSeconds=3" % r["metadata"]["resourceVersion"])
            t = time.monotonic()
            evs = s.events(1)
            self.assertEqual(evs[0]["type"], "BOOKMARK")
            self.assertGreater(time.monotonic() - t, 0.5)
            s.read_all()
            self.assertTrue(s.clean_end)
            s.close()
        finally:
            srv.stop()

    def test_future_resource_version(self):
        # like the watch cache: nothing at or before the requested version is sent, even when
        # the version is ahead of the server (a client that outlived a restored server)
        ns = new_ns()
        cur = int(mk_cm(ns, "f0")["metadata"]["resourceVersion"])
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&allowWatchBookmarks=true"
                       "&resourceVersion=%d" % (ns, cur + 3))
        for i in range(1, 6):
            mk_cm(ns, "f%d" % i)
        evs = [e for e in s.events(3) if e["type"] != "BOOKMARK"][:1]
        self.assertEqual(evs[0]["object"]["metadata"]["name"], "f4")
        for e in s.events(2):
            self.assertGreater(int(e["object"]["metadata"]["resourceVersion"]), cur + 3)

    def test_rv_start_and_closed_watch_accounting(self):
        srv = harness.start_server(os.path.join(TMP, "rvstart"), rv_start=5000000)
        try:
            r = srv.request("GET", "/api/v1/namespaces").json
            self.assertGreater(int(r["metadata"]["resourceVersion"]), 5000000)
            s = RawStream(srv, "/api/v1/configmaps?watch=true")
            self.assertEqual(srv.stats()["watches_open"], 1)
            s.close()
            deadline = time.monotonic() + 5
            while srv.stats()["watches_open"] and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(srv.stats()["watches_open"], 0)
        finally:
            srv.stop()

    def test_selector_transitions(self):
        ns = new_ns()
        cm = mk_cm(ns, "s", labels={"app": "x"})
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&labelSelector=app%%3Dx"
                       "&resourceVersion=%s" % (ns, cm["metadata"]["resourceVersion"]))
        patch_cm(ns, "s", {"metadata": {"labels": {"app": "y"}}})
        mk_cm(ns, "other", labels={"app": "y"})
        patch_cm(ns, "s", {"data": {"k": "ignored"}})
        patch_cm(ns, "s", {"metadata": {"labels": {"app": "x"}}})
        patch_cm(ns, "s", {"data": {"k": "seen"}})
        evs = s.events(3)
        self.assertEqual([e["type"] for e in evs], ["DELETED", "ADDED", "MODIFIED"])
        self.assertEqual(evs[0]["object"]["metadata"]["labels"], {"app": "x"})
        self.assertEqual(evs[2]["object"]["data"], {"k": "seen"})

    def test_send_initial_events(self):
        ns = new_ns()
        mk_cm(ns, "i1")
        mk_cm(ns, "i2")
        q = ("/api/v1/namespaces/%s/configmaps?watch=true&sendInitialEvents=true"
             "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true" % ns)
        s = self.watch(q)
        evs = s.events(3)
        self.assertEqual([e["type"] for e in evs], ["ADDED", "ADDED", "BOOKMARK"])
        self.assertEqual(evs[2]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        mk_cm(ns, "i3")
        e = s.events(1)[0]
        while e["type"] == "BOOKMARK":
            e = s.events(1)[0]
        self.assertEqual((e["type"], e["object"]["metadata"]["name"]), ("ADDED", "i3"))
        # requirements of the real server
        st = self.assertStatus(api("GET", q.replace("&allowWatchBookmarks=true", "")), 422,
                               "Invalid")
        self.assertIn("allowWatchBookmarks", st["message"])
        # the WatchList switch
        SRV.control("watch-list", enabled=False)
        st = self.assertStatus(api("GET", q), 422, "Invalid")
        self.assertIn("WatchList", st["message"])

    def test_send_initial_events_false(self):
        ns = new_ns()
        mk_cm(ns, "old")
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&sendInitialEvents=false"
                       "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true" % ns)
        mk_cm(ns, "new")
        e = [x for x in s.events(2) if x["type"] != "BOOKMARK"][0]
        self.assertEqual((e["type"], e["object"]["metadata"]["name"]), ("ADDED", "new"))

    def test_no_watch_list_flag(self):
        srv = harness.start_server(os.path.join(TMP, "nowl"), no_watch_list=True)
        try:
            r = srv.request("GET", "/api/v1/configmaps?watch=true&sendInitialEvents=true"
                                   "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
            self.assertEqual(r.status, 422)
        finally:
            srv.stop()

    def test_expired_after_compaction(self):
        ns = new_ns()
        cm = mk_cm(ns, "x")
        rv = cm["metadata"]["resourceVersion"]
        patch_cm(ns, "x", {"data": {"k": "2"}})
        SRV.control("compact")
        q = "/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%s" % (ns, rv)
        s = self.watch(q)
        self.assertEqual(s.status, 200)
        evs = s.events(1)
        self.assertEqual(evs[0]["type"], "ERROR")
        st = evs[0]["object"]
        self.assertEqual((st["kind"], st["code"], st["reason"]), ("Status", 410, "Expired"))
        self.assertIn("too old resource version", st["message"])
        s.read_all()
        self.assertTrue(s.clean_end)
        # the other form: HTTP 410 before the stream
        SRV.control("watch-410-http", enabled=True)
        self.assertStatus(api("GET", q), 410, "Expired")
        # exact list at the compacted RV
        self.assertStatus(api("GET", "/api/v1/namespaces/%s/configmaps?resourceVersion=%s"
                              "&resourceVersionMatch=Exact" % (ns, rv)), 410, "Expired")

    def test_history_bound(self):
        srv = harness.start_server(os.path.join(TMP, "hist"), history=5)
        try:
            r = srv.request("GET", "/api/v1/configmaps").json
            rv = r["metadata"]["resourceVersion"]
            for i in range(3):
                srv.request("POST", "/api/v1/namespaces/default/configmaps",
                            {"metadata": {"name": "h%d" % i}})
            s = RawStream(srv, "/api/v1/configmaps?watch=true&resourceVersion=%s" % rv)
            self.assertEqual([e["type"] for e in s.events(3)], ["ADDED"] * 3)
            s.close()
            for i in range(3, 10):
                srv.request("POST", "/api/v1/namespaces/default/configmaps",
                            {"metadata": {"name": "h%d" % i}})
            s = RawStream(srv, "/api/v1/configmaps?watch=true&resourceVersion=%s" % rv)
            self.assertEqual(s.events(1)[0]["object"]["code"], 410)
            s.close()
        finally:
            srv.stop()


class TestFaults(Base):
    def watch(self, path, **kw):
        s = RawStream(SRV, path, **kw)
        self.addCleanup(s.close)
        return s

    def test_drop_watches(self):
        ns = new_ns()
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true" % ns)
        self.assertEqual(s.status, 200)
        mk_cm(ns, "d")
        s.events(1)
        self.assertGreaterEqual(SRV.stats()["watches_open"], 1)
        self.assertGreaterEqual(SRV.control("drop-watches")["watches"], 1)
        s.read_all()
        self.assertTrue(s.abrupt)
        self.assertFalse(s.clean_end)

    def test_watch_error(self):
        ns = new_ns()
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true" % ns)
        SRV.control("watch-error", code=410)
        evs = s.events(1)
        self.assertEqual(evs[0]["type"], "ERROR")
        self.assertEqual((evs[0]["object"]["code"], evs[0]["object"]["reason"]), (410, "Expired"))
        s.read_all()
        self.assertTrue(s.clean_end)

    def test_http_faults(self):
        ns = new_ns()
        base = "/api/v1/namespaces/%s/configmaps" % ns
        SRV.control("http", status=429, count=2, verb="list", match=ns, retry_after=7)
        for _ in range(2):
            r = api("GET", base)
            self.assertEqual(r.status, 429)
            self.assertEqual(r.headers["retry-after"], "7")
            self.assertTrue(r.headers["content-type"].startswith("text/plain"))
            self.assertEqual(r.body, b"Too many requests, please try again later.\n")
        self.assertEqual(api("GET", base).status, 200)
        # verb and match filter; 5xx answer Status JSON
        SRV.control("http", status=503, count=1, verb="watch", match=ns)
        self.assertEqual(api("GET", base).status, 200)
        self.assertStatus(api("GET", base + "?watch=true"), 503, "ServiceUnavailable")
        SRV.control("http", status=500, count=1, verb="create", match="no-such-path")
        self.assertEqual(api("POST", base, {"metadata": {"name": "ok"}}).status, 201)
        SRV.control("http", status=500, count=1, verb="any")
        self.assertStatus(api("GET", base), 500, "InternalError")
        SRV.control("http", status=504, count=1, verb="list")
        r = api("GET", base)
        st = self.assertStatus(r, 504, "Timeout")
        self.assertEqual(st["details"]["causes"][0]["reason"], "ResourceVersionTooLarge")
        self.assertTrue(r.headers["retry-after"])
        SRV.control("http", status=410, count=1, verb="watch")
        self.assertStatus(api("GET", base + "?watch=true&resourceVersion=1"), 410, "Expired")
        SRV.control("http", status=500, count=5)
        SRV.control("clear")
        self.assertEqual(api("GET", base).status, 200)

    def test_garbage(self):
        ns = new_ns()
        mk_cm(ns, "g")
        SRV.control("garbage", count=1, match=ns)
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true" % ns)
        data = s.read_all()
        self.assertTrue(s.abrupt)
        first, rest = data.split(b"\n", 1)
        self.assertEqual(json.loads(first)["type"], "ADDED")
        with self.assertRaises(ValueError):
            json.loads(rest.split(b"\n")[0])
        # only count=1: the next watch is fine
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true&timeoutSeconds=1" % ns)
        s.read_all()
        self.assertTrue(s.clean_end)

    def test_truncate(self):
        ns = new_ns()
        for i in range(20):
            mk_cm(ns, "t%d" % i, {"k": "x" * 1000})
        SRV.control("truncate", count=1)
        s = self.watch("/api/v1/namespaces/%s/configmaps" % ns)
        data = s.read_all()
        self.assertTrue(s.abrupt)
        with self.assertRaises(ValueError):
            json.loads(data)
        s = self.watch("/api/v1/namespaces/%s/configmaps" % ns)
        self.assertEqual(len(json.loads(s.read_all())["items"]), 20)

    def test_slow(self):
        ns = new_ns()
        mk_cm(ns, "s", {"k": "x" * 2000})
        SRV.control("slow", delay_ms=50, count=1, bytes=500)
        t = time.monotonic()
        s = self.watch("/api/v1/namespaces/%s/configmaps" % ns)
        body = s.read_all()
        took = time.monotonic() - t
        self.assertGreaterEqual(len(s.chunk_sizes), 5)
        self.assertTrue(all(n <= 500 for n in s.chunk_sizes))
        self.assertGreater(took, 0.2)
        self.assertEqual(len(json.loads(body)["items"]), 1)

    def test_split(self):
        ns = new_ns()
        SRV.control("split", enabled=True)
        s = self.watch("/api/v1/namespaces/%s/configmaps?watch=true" % ns)
        for i in range(20):
            mk_cm(ns, "s%02d" % i, {"k": "v" * 100})
        evs = s.events(20)
        self.assertEqual([e["object"]["metadata"]["name"] for e in evs],
                         ["s%02d" % i for i in range(20)])
        self.assertGreater(len(s.chunk_sizes), 20)  # events were split across chunks

    def test_hostile(self):
        ns = new_ns()
        names = ["../x", "a/b", "UPPER", "x" * 300]
        for n in names:
            r = SRV.control("hostile", namespace=ns, name=n, data={"../../etc/passwd": "x"})
            self.assertEqual(r["object"]["metadata"]["name"], n)
        r = SRV.control("hostile", namespace="../evil", name="ok", data={"k": "v"})
        got = api("GET", "/api/v1/configmaps").json["items"]
        have = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in got}
        for n in names:
            self.assertIn((ns, n), have)
        self.assertIn(("../evil", "ok"), have)

    def test_bulk_objects(self):
        r = SRV.load(items=[{"kind": "ConfigMap", "metadata": {"name": "b1", "namespace": "bulk"},
                             "data": {"a": "1"}}],
                     template={"kind": "ConfigMap", "metadata": {"namespace": "bulk"},
                               "data": {"x": "<&>"}}, count=50, prefix="t-")
        self.assertEqual(r["created"], 51)
        dump = SRV.objects("configmaps")
        mine = [o for o in dump["items"] if o["metadata"]["namespace"] == "bulk"]
        self.assertEqual(len(mine), 51)
        self.assertEqual(mine[0]["kind"], "ConfigMap")
        lst = api("GET", "/api/v1/namespaces/bulk/configmaps?limit=20")
        self.assertIn(b"\\u003c\\u0026\\u003e", lst.body)  # Go escapes HTML characters
        self.assertEqual(lst.json["items"][1]["data"], {"x": "<&>"})


class TestTokenRotation(unittest.TestCase):
    def test_rotate(self):
        srv = harness.start_server(os.path.join(TMP, "rot"), token=["first", "extra"])
        try:
            self.assertEqual(srv.token, "first")
            self.assertEqual(srv.request("GET", "/api/v1/configmaps", token="extra").status, 200)
            srv.control("rotate-token", grace_s=2)
            new = srv.token
            self.assertNotEqual(new, "first")
            with open(srv.kubeconfig) as f:
                self.assertIn(new, f.read())
            self.assertEqual(srv.request("GET", "/api/v1/configmaps", token=new).status, 200)
            self.assertEqual(srv.request("GET", "/api/v1/configmaps", token="first").status, 200)
            time.sleep(2.2)
            self.assertEqual(srv.request("GET", "/api/v1/configmaps", token="first").status, 401)
            srv.control("rotate-token")
            self.assertEqual(srv.request("GET", "/api/v1/configmaps", token=new).status, 401)
            self.assertEqual(srv.request("GET", "/api/v1/configmaps").status, 200)
        finally:
            srv.stop()


class TestStats(unittest.TestCase):
    def test_counting(self):
        srv = harness.start_server(os.path.join(TMP, "stats"))
        try:
            srv.reset_stats()
            h = {"User-Agent": "agent-a/1"}
            srv.request("GET", "/api/v1/configmaps", headers=h)
            srv.request("GET", "/api/v1/namespaces/default/configmaps/none", headers=h)
            srv.request("POST", "/api/v1/namespaces/default/configmaps",
                        {"metadata": {"name": "s"}}, headers=h)
            srv.request("GET", "/api/v1/configmaps?watch=true&timeoutSeconds=1", headers=h)
            srv.control("split", enabled=False)  # never counted
            st = srv.stats()
            self.assertEqual(list(st["clients"]), ["agent-a/1"])
            a = st["clients"]["agent-a/1"]
            self.assertEqual(a["requests"], 4)
            self.assertEqual(a["by_verb"], {"list": 1, "get": 1, "create": 1, "watch": 1})
            self.assertEqual(a["by_status"], {"200": 2, "404": 1, "201": 1})
            self.assertEqual(a["bytes_sent"], sum(r["bytes"] for r in st["requests"]))
            self.assertEqual([r["verb"] for r in st["requests"]],
                             ["list", "get", "create", "watch"])
            self.assertEqual(st["requests"][3]["query"], "watch=true&timeoutSeconds=1")
            self.assertEqual(st["watches_open"], 0)
            srv.reset_stats()
            self.assertEqual(srv.stats()["clients"], {})
        finally:
            srv.stop()


class TestLifecycle(unittest.TestCase):
    def test_sigterm_with_open_watch(self):
        d = os.path.join(TMP, "life")
        srv = harness.start_server(d, port=0)
        with open(os.path.join(d, "ready.json")) as f:
            ready = json.load(f)
        self.assertEqual(set(ready), {"url", "port", "ca", "token_file", "kubeconfig", "pid"})
        self.assertEqual(ready["url"], "https://127.0.0.1:%d" % ready["port"])
        s = RawStream(srv, "/api/v1/configmaps?watch=true")
        self.assertEqual(s.status, 200)
        t = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(10), 0)
        self.assertLess(time.monotonic() - t, 5)
        s.read_all()
        s.close()
        srv.stop()
        # certificates are cached: a restart in the same directory reuses them
        with open(os.path.join(d, "ca.crt")) as f:
            ca = f.read()
        srv = harness.start_server(d)
        try:
            with open(os.path.join(d, "ca.crt")) as f:
                self.assertEqual(f.read(), ca)
            self.assertEqual(srv.request("GET", "/version").status, 200)
        finally:
            srv.stop()

    def test_ipv6_loopback(self):
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback")
        srv = harness.start_server(os.path.join(TMP, "v6"), host="::1")
        try:
            self.assertTrue(srv.url.startswith("https://[::1]:"))
            self.assertEqual(srv.request("GET", "/api/v1/namespaces/default").status, 200)
        finally:
            srv.stop()

    def test_no_tls(self):
        srv = harness.start_server(os.path.join(TMP, "plain"), no_tls=True)
        try:
            self.assertTrue(srv.url.startswith("http://"))
            self.assertIsNone(srv.ready["ca"])
            self.assertEqual(srv.request("GET", "/api/v1/configmaps", token=None).status, 200)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
