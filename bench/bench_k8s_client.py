#!/usr/bin/python3
"""Benchmark the Kubernetes client (k8s/http.c, k8s/loop.c, k8s/reflector.c) through
tests/k8s-client/watchdump against the test API server over TLS (issue 4).

  (1) initial list of N ConfigMaps (`watchdump --once`: list, decode every object, print one JSON
      line per object): median wall time, against the floor of the curl command line (the same
      libcurl and TLS) fetching the same list to /dev/null without decoding;
  (2) peak RSS (VmHWM) of the client once it has listed them, against the same program listing
      an empty namespace: streaming decode means memory does not grow with the list;
  (3) steady state: a client with short watches (timeoutSeconds 2-3 s) for S seconds of idle
      and a few updates: requests by verb and bytes the server sent, against the floor a
      reflector cannot go below (one list, then one watch request per watch that ended).

usage: bench_k8s_client.py [--count N] [--runs R] [--idle S]
Writes bench/results-k8s.md.  BUILD selects the build directory (default build).
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))
from harness import start_server  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
WATCHDUMP = os.path.join(BUILD_DIR, "tests", "watchdump")
with open(os.path.join(ROOT, "VERSION")) as f:
    UA = "seccomp-syncd/" + f.read().strip()


def timed(cmd):
    """Wall time and peak RSS of one run (os.wait4 gives the child's own rusage)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError("%r exited %d: %s" % (cmd, p.returncode, err[-500:]))
    return dt, ru.ru_maxrss, out


def hwm_after_sync(cmd, d):
    """Start the (watching) client, wait for its first complete list, return VmHWM in KiB: the
    peak of this process image alone (ru_maxrss would include the forked Python)."""
    path = os.path.join(d, "hwm.out")
    with open(path, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open(path, "rb") as f:
                if b'"cb":"synced"' in f.read():
                    break
            time.sleep(0.01)
        else:
            raise RuntimeError("client did not sync")
        with open("/proc/%d/status" % p.pid) as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
        raise RuntimeError("no VmHWM")
    finally:
        p.terminate()
        p.wait(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--idle", type=int, default=20)
    args = ap.parse_args()
    if not os.path.exists(WATCHDUMP):
        subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + BUILD, WATCHDUMP], check=True)
    d = tempfile.mkdtemp(prefix="bench-k8s-")
    srv = start_server(os.path.join(d, "srv"), bookmark_interval=1)
    try:
        srv.load(template={"kind": "ConfigMap", "metadata": {"namespace": "bench",
                           "annotations": {"seccomp.security.kubernetes.io/profile": "true"}},
                           "data": {"profile.json": "x" * 4096}},
                 count=args.count, prefix="cm-")
        r = srv.request("POST", "/api/v1/namespaces", {"metadata": {"name": "empty"}})
        assert r.status in (201, 409), r
        tok = srv.token
        url = srv.url + "/api/v1/namespaces/bench/configmaps?limit=500&resourceVersion=0"
        curl = ["curl", "-sS", "--fail", "-o", "/dev/null", "--cacert", srv.ca, "-H",
                "Authorization: Bearer " + tok, "-H", "Accept: application/json",
                "-w", "%{size_download}", url]
        dump = [WATCHDUMP, "--kubeconfig", srv.kubeconfig, "--once", "--namespace", "bench"]
        empty = [WATCHDUMP, "--kubeconfig", srv.kubeconfig, "--once", "--namespace", "empty"]

        # warm-up: the server's first list of a namespace builds its caches
        timed(curl)
        timed(dump)
        t_curl, t_dump, rss_full, rss_empty = [], [], [], []
        size = 0
        for _ in range(args.runs):
            dt, _, out = timed(curl)
            t_curl.append(dt)
            size = int(out or b"0")
            dt, _, out = timed(dump)
            t_dump.append(dt)
            n_obj = out.count(b'"cb":"object"')
            assert n_obj == args.count, (n_obj, args.count)
            rss_full.append(hwm_after_sync(dump[:-3] + ["--namespace", "bench"], d))
            rss_empty.append(hwm_after_sync(empty[:-3] + ["--namespace", "empty"], d))
        mc, md = statistics.median(t_curl), statistics.median(t_dump)
        rf, re_ = statistics.median(rss_full), statistics.median(rss_empty)
        print("list s:", t_dump, "curl s:", t_curl, "rss:", rss_full, "empty rss:", rss_empty,
              file=sys.stderr)

        # steady state
        srv.reset_stats()
        outf = open(os.path.join(d, "steady.out"), "w+b")
        p = subprocess.Popen([WATCHDUMP, "--kubeconfig", srv.kubeconfig, "--namespace", "bench",
                              "--watch-timeout", "2:3"], stdout=outf,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        for i in range(10):
            time.sleep(args.idle / 10.0)
            srv.request("PATCH", "/api/v1/namespaces/bench/configmaps/cm-%d" % i,
                        {"data": {"v": str(i)}}, content_type="application/merge-patch+json")
        p.terminate()
        p.wait(30)
        outf.seek(0)
        out = outf.read()
        outf.close()
        span = time.monotonic() - t0
        st = srv.stats()["clients"].get(UA, {})
        verbs = st.get("by_verb", {})
        ends = out.count(b'"reason":"timeout"')
        events = out.count(b'"cb":"event"')
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)

    lists = verbs.get("list", 0)
    watches = verbs.get("watch", 0)
    floor_watches = 1 + ends
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    lines = [
        "# Kubernetes client benchmark (bench/bench_k8s_client.py)",
        "",
        "`tests/k8s-client/watchdump` (the k8s/loop.h client printing one JSON line per "
        "callback) against `tests/apiserver/apiserver.py` over TLS on loopback, with floors "
        "measured in the same run.",
        "",
        "- Machine: %d vCPU \"%s\", Linux %s, %s; gcc `-O2` build `%s`." % (
            os.cpu_count(), cpu, platform.release(), "Debian 12", BUILD),
        "- Command: `make BUILD=%s %s/tests/watchdump && BUILD=%s python3 "
        "bench/bench_k8s_client.py --count %d --runs %d --idle %d`" % (
            BUILD, BUILD, BUILD, args.count, args.runs, args.idle),
        "- The test server is Python: it, not the client, dominates the list times; the ratio "
        "shows what decoding and the client add on top of fetching the bytes.",
        "",
        "| measure | client | floor | ratio |",
        "|---|---|---|---|",
        "| initial list of %d ConfigMaps (%.1f MiB), median of %d, s | %.3f | %.3f (curl "
        "to /dev/null) | %.2f |" % (args.count, size / 1048576.0, args.runs, md, mc, md / mc),
        "| peak RSS (VmHWM) after listing %d ConfigMaps, KiB | %d | %d (same program, empty list) | "
        "+%d KiB for a %.1f MiB list |" % (args.count, rf, re_, rf - re_, size / 1048576.0),
        "| steady state %.0f s, watchTimeout 2-3 s: list requests | %d | 1 | %.2f |" % (
            span, lists, lists / 1.0),
        "| same: watch requests (clean ends seen: %d) | %d | %d (1 + clean ends) | %.2f |" % (
            ends, watches, floor_watches, watches / float(floor_watches)),
        "| same: bytes the server sent (the initial list included) | %d | - | - |" % st.get("bytes_sent", 0),
        "| same: watch events received (10 updates) | %d | 10 | %.2f |" % (events, events / 10.0),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(HERE, "results-k8s.md"), "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
