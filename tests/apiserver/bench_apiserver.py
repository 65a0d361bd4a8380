#!/usr/bin/python3
"""Throughput of the test API server, each figure next to the floor it is compared to.

    /usr/bin/python3 tests/apiserver/bench_apiserver.py [--objects 10000] [--runs 3] [--watchers 50]

- load: 10,000 ConfigMaps carrying docker-default.json through POST /_test/objects (template).
- full list: GET /api/v1/configmaps?resourceVersion=0 fetched by curl, against the floor of the
  same number of bytes sent by a bare Python TLS socket (the best a Python server can do here).
- paged list: limit=500 pages through everything (Python client, decoding each page).
- watch fan-out: W watchers on ConfigMaps, then 500 merge patches; the time until every watcher has
  every event, against the floor of the same patches with no watcher open.
Prints medians. Finishes in about a minute with the defaults.
"""

import argparse
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

PROFILE = os.path.join(os.path.dirname(HERE), "data", "profiles", "docker-default.json")


def curl_get(srv, url_path):
    t = time.monotonic()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}",
                          "--cacert", srv.ca, "-H", "Authorization: Bearer " + srv.token,
                          srv.url + url_path], capture_output=True, text=True, check=True)
    return time.monotonic() - t, int(out.stdout)


def tls_floor(d, nbytes):
    """Serve nbytes (chunked, 256 KiB chunks) from a bare ssl socket once; curl fetches it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    block = b"x" * (256 * 1024)

    def serve():
        c, _ = ls.accept()
        s = ctx.wrap_socket(c, server_side=True)
        f = s.makefile("rb")
        while f.readline() not in (b"\r\n", b""):
            pass
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        left = nbytes
        while left > 0:
            b = block[:min(left, len(block))]
            s.sendall(b"%x\r\n%s\r\n" % (len(b), b))
            left -= len(b)
        s.sendall(b"0\r\n\r\n")
        f.close()
        s.close()
    t = threading.Thread(target=serve)
    t.start()
    t0 = time.monotonic()
    subprocess.run(["curl", "-sS", "-o", "/dev/null", "--cacert", os.path.join(d, "ca.crt"),
                    "https://127.0.0.1:%d/" % port], check=True)
    took = time.monotonic() - t0
    t.join()
    ls.close()
    return took


def read_events(srv, path, want, done, errors):
    try:
        c, r = srv.watch(path, timeout=120)
        n = 0
        while n < want:
            line = r.readline()
            if not line:
                break
            if json.loads(line)["type"] == "MODIFIED":
                n += 1
        c.close()
        if n < want:
            errors.append("watcher got %d of %d" % (n, want))
    except Exception as ex:  # reported by the main thread
        errors.append(repr(ex))
    done.append(time.monotonic())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--watchers", type=int, default=50)
    ap.add_argument("--patches", type=int, default=500)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-apiserver-")
    srv = harness.start_server(os.path.join(tmp, "srv"))
    rows = []
    try:
        with open(PROFILE) as f:
            prof = f.read()
        t = time.monotonic()
        srv.load(template={"kind": "ConfigMap", "metadata": {"namespace": "bench"},
                           "data": {"docker-default.json": prof}}, count=a.objects, prefix="cm-")
        rows.append(("load %d ConfigMaps (template)" % a.objects, time.monotonic() - t, None))

        fulls, size = [], 0
        for _ in range(a.runs):
            took, size = curl_get(srv, "/api/v1/configmaps?resourceVersion=0")
            fulls.append(took)
        floors = [tls_floor(srv.dir, size) for _ in range(a.runs)]
        rows.append(("full list, %.0f MB, curl" % (size / 1e6), statistics.median(fulls),
                     statistics.median(floors)))

        pages = []
        for _ in range(a.runs):
            t = time.monotonic()
            cont, n = "", 0
            while True:
                r = srv.request("GET", "/api/v1/namespaces/bench/configmaps?limit=500" +
                                ("&continue=" + cont if cont else ""), timeout=120).json
                n += len(r["items"])
                cont = r["metadata"].get("continue")
                if not cont:
                    break
            assert n == a.objects, n
            pages.append(time.monotonic() - t)
        rows.append(("paged list limit=500, Python client", statistics.median(pages), None))

        srv.request("POST", "/api/v1/namespaces/bench/configmaps",
                    {"metadata": {"name": "hot"}, "data": {"n": "0"}})

        def patches():
            t = time.monotonic()
            for i in range(a.patches):
                r = srv.request("PATCH", "/api/v1/namespaces/bench/configmaps/hot",
                                {"data": {"n": str(i + 1 + int(time.monotonic() * 1e6))}},
                                content_type="application/merge-patch+json")
                assert r.status == 200, r
            return t
        floor = []
        for _ in range(a.runs):
            t = patches()
            floor.append(time.monotonic() - t)
        fan = []
        for _ in range(a.runs):
            rv = srv.request("GET", "/api/v1/namespaces/bench/configmaps/hot").json[
                "metadata"]["resourceVersion"]
            done, errors = [], []
            ths = [threading.Thread(target=read_events, args=(
                srv, "/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion=%s"
                     "&fieldSelector=metadata.name%%3Dhot" % rv, a.patches, done, errors))
                for _ in range(a.watchers)]
            for th in ths:
                th.start()
            while srv.stats()["watches_open"] < a.watchers:
                time.sleep(0.05)
            t = patches()
            for th in ths:
                th.join()
            if errors:
                raise SystemExit("watch fan-out failed: %s" % errors[:3])
            fan.append(max(done) - t)
        rows.append(("%d patches seen by %d watchers" % (a.patches, a.watchers),
                     statistics.median(fan), statistics.median(floor)))
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("| measurement | median s | floor s | ratio |")
    print("|---|---|---|---|")
    for name, v, fl in rows:
        print("| %s | %.3f | %s | %s |" % (name, v, "%.3f" % fl if fl else "-",
                                          "%.2f" % (v / fl) if fl else "-"))


if __name__ == "__main__":
    main()
