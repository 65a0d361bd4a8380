#!/usr/bin/python3
"""The real kubectl against the test API server, with the bundled clients for 1.29, 1.32, 1.33.

/usr/bin/kubectl is a dispatcher that runs the client matching the minor version the server
reports, so each server is started with --version of the client under test and gets a fresh
--cache-dir (kubectl caches discovery per server).
"""

import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))
import harness  # noqa: E402

PROFILE = os.path.join(ROOT, "tests", "data", "profiles", "docker-default.json")


class KubectlMixin:
    VERSION = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test-apiserver-kubectl-")
        cls.srv = harness.start_server(os.path.join(cls.tmp, "srv"), version=cls.VERSION)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def k(self, *args, ok=True, input=None):
        r = self.srv.kubectl(*args, input=input)
        if ok:
            self.assertEqual(r.returncode, 0, "kubectl %s: %s%s" % (" ".join(args), r.stdout,
                                                                    r.stderr))
        return r

    def get(self, ns, name):
        r = self.srv.request("GET", "/api/v1/namespaces/%s/configmaps/%s" % (ns, name))
        return r.json if r.status == 200 else None

    def manifest(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_client_version_matches(self):
        self.k("get", "ns", "default")
        minor = self.VERSION.split(".")[1]
        agents = [ua for ua in self.srv.stats()["clients"] if ua.startswith("kubectl/")]
        self.assertTrue(agents)
        for ua in agents:
            self.assertTrue(ua.startswith("kubectl/v1.%s." % minor), ua)

    def test_apply_client_side(self):
        self.k("create", "namespace", "csa")
        m = self.manifest("csa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prof\n"
                          "  namespace: csa\n  labels:\n    app: one\ndata:\n  a.json: '{}'\n"
                          "  b.json: '{}'\n")
        r = self.k("apply", "-f", m)
        self.assertIn("configmap/prof created", r.stdout)
        m = self.manifest("csa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prof\n"
                          "  namespace: csa\n  labels:\n    app: two\ndata:\n  a.json: '{\"x\":1}'\n")
        r = self.k("apply", "-f", m)
        self.assertIn("configmap/prof configured", r.stdout)
        cm = self.get("csa", "prof")
        self.assertEqual(cm["data"], {"a.json": '{"x":1}'})
        self.assertEqual(cm["metadata"]["labels"], {"app": "two"})
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration",
                      cm["metadata"]["annotations"])
        r = self.k("apply", "-f", m)
        self.assertIn("unchanged", r.stdout)

    def test_apply_server_side_replace_patch(self):
        self.k("create", "namespace", "ssa")
        m = self.manifest("ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n"
                          "  namespace: ssa\ndata:\n  a: '1'\n  b: '2'\n")
        r = self.k("apply", "--server-side", "-f", m)
        self.assertIn("serverside-applied", r.stdout)
        m = self.manifest("ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n"
                          "  namespace: ssa\ndata:\n  a: '3'\n")
        self.k("apply", "--server-side", "-f", m)
        self.assertEqual(self.get("ssa", "s")["data"], {"a": "3"})
        m = self.manifest("rep.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n"
                          "  namespace: ssa\ndata:\n  r: replaced\n")
        r = self.k("replace", "-f", m)
        self.assertIn("replaced", r.stdout)
        self.assertEqual(self.get("ssa", "s")["data"], {"r": "replaced"})
        self.k("patch", "-n", "ssa", "cm", "s", "-p", '{"data":{"p":"strategic"}}')
        self.k("patch", "-n", "ssa", "cm", "s", "--type=merge", "-p", '{"data":{"r":null}}')
        self.k("patch", "-n", "ssa", "cm", "s", "--type=json", "-p",
               '[{"op":"add","path":"/data/j","value":"json"}]')
        self.assertEqual(self.get("ssa", "s")["data"], {"p": "strategic", "j": "json"})
        r = self.k("create", "configmap", "-n", "ssa", "fromfile", "--from-file=" + PROFILE)
        with open(PROFILE) as f:
            self.assertEqual(self.get("ssa", "fromfile")["data"]["docker-default.json"], f.read())

    def test_annotate_label_selectors_delete(self):
        self.k("create", "namespace", "sel")
        for n in ("one", "two", "three"):
            self.k("create", "configmap", "-n", "sel", n, "--from-literal=k=" + n)
        self.k("annotate", "-n", "sel", "cm", "one", "seccomp.security.kubernetes.io/profile=true")
        self.k("label", "-n", "sel", "cm", "one", "two", "seccomp=yes")
        self.assertEqual(self.get("sel", "one")["metadata"]["annotations"],
                         {"seccomp.security.kubernetes.io/profile": "true"})
        r = self.k("get", "-n", "sel", "cm", "--selector", "seccomp=yes", "-o", "name")
        self.assertEqual(r.stdout.split(), ["configmap/one", "configmap/two"])
        r = self.k("get", "-n", "sel", "cm", "-l", "seccomp!=yes", "-o", "name")
        self.assertEqual(r.stdout.split(), ["configmap/three"])
        r = self.k("get", "-n", "sel", "cm", "--field-selector", "metadata.name=two")
        self.assertEqual([ln.split()[0] for ln in r.stdout.splitlines()], ["NAME", "two"])
        r = self.k("get", "cm", "-A", "--field-selector", "metadata.namespace=sel", "-o", "name")
        self.assertEqual(len(r.stdout.split()), 3)
        r = self.k("get", "-n", "sel", "cm", "--field-selector", "data.k=one", ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("BadRequest", r.stderr)
        r = self.k("delete", "-n", "sel", "cm", "one")
        self.assertIn('configmap "one" deleted', r.stdout)
        self.assertIsNone(self.get("sel", "one"))
        r = self.k("get", "-n", "sel", "cm", "one", ok=False)
        self.assertIn('configmaps "one" not found', r.stderr)

    def test_large_list_is_compressed(self):
        with open(PROFILE) as f:
            prof = f.read()
        self.srv.load(template={"kind": "ConfigMap", "metadata": {"namespace": "big"},
                                "data": {"docker-default.json": prof}}, count=30, prefix="p-")
        r = self.k("get", "-n", "big", "cm", "-o", "json")
        items = json.loads(r.stdout)["items"]
        self.assertEqual(len(items), 30)
        self.assertEqual(items[7]["data"]["docker-default.json"], prof)
        lists = [x for x in self.srv.stats()["requests"]
                 if x["verb"] == "list" and x["path"] == "/api/v1/namespaces/big/configmaps"]
        self.assertLess(lists[-1]["bytes"], 30 * len(prof) / 3)  # gzip on the wire

    def test_describe_shows_events(self):
        self.k("create", "namespace", "desc")
        self.k("create", "configmap", "-n", "desc", "p", "--from-literal=a=b")
        cm = self.get("desc", "p")
        for name, uid, reason in (("p.1", cm["metadata"]["uid"], "InvalidSeccompProfile"),
                                  ("p.2", "00000000-0000-0000-0000-000000000000", "StaleUid")):
            ev = {"metadata": {"name": name}, "involvedObject": {
                "apiVersion": "v1", "kind": "ConfigMap", "namespace": "desc", "name": "p",
                "uid": uid, "resourceVersion": cm["metadata"]["resourceVersion"]},
                "reason": reason, "message": "syscall 'bogus' unknown", "type": "Warning",
                "source": {"component": "seccomp-syncd", "host": "node-1"},
                "firstTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "lastTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "count": 1}
            r = self.srv.request("POST", "/api/v1/namespaces/desc/events", ev)
            self.assertEqual(r.status, 201, r)
        r = self.k("describe", "configmap", "-n", "desc", "p")
        self.assertIn("InvalidSeccompProfile", r.stdout)
        self.assertIn("seccomp-syncd", r.stdout)
        self.assertNotIn("StaleUid", r.stdout)

    def test_get_watch(self):
        self.k("create", "namespace", "watch")
        self.k("create", "configmap", "-n", "watch", "w", "--from-literal=a=1")
        p = self.srv.kubectl_popen("get", "-n", "watch", "cm", "-w")
        lines = queue.Queue()

        def reader():
            for line in p.stdout:
                lines.put(line.split())
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            self.assertEqual(lines.get(timeout=20)[:2], ["NAME", "DATA"])
            self.assertEqual(lines.get(timeout=20)[:2], ["w", "1"])
            time.sleep(0.3)  # let the watch request reach the server
            self.k("patch", "-n", "watch", "cm", "w", "-p", '{"data":{"b":"2"}}')
            self.assertEqual(lines.get(timeout=20)[:2], ["w", "2"])
        finally:
            p.terminate()
            p.wait(10)
            p.stdout.close()
            p.stderr.close()
        watches = [r for r in self.srv.stats()["requests"]
                   if r["verb"] == "watch" and r["path"] == "/api/v1/namespaces/watch/configmaps"]
        self.assertTrue(watches)


class Test129(KubectlMixin, unittest.TestCase):
    VERSION = "v1.29.8"


class Test132(KubectlMixin, unittest.TestCase):
    VERSION = "v1.32.4"


class Test133(KubectlMixin, unittest.TestCase):
    VERSION = "v1.33.1"


if __name__ == "__main__":
    unittest.main(verbosity=2)
