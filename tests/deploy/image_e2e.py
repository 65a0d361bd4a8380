#!/usr/bin/python3
"""Run the image the way deploy/daemonset.yaml runs it, against the test API server.

Called by `tests/deploy/image.sh test` (make image-test) with IMAGE and PODMAN (the podman
command with this repository's private storage flags) in the environment.  The chart is
rendered with a free metrics port; the container then gets what the kubelet would give the
pod: the DaemonSet's args and env (NODE_NAME as the downward API fills it in), the service
account token and CA at the in-cluster paths with KUBERNETES_SERVICE_HOST/PORT, the seccomp
hostPath at its mountPath, a read-only root filesystem, uid 0, every capability dropped,
no_new_privs and the runtime's default seccomp profile.  It checks that the pod becomes ready,
writes the demo profiles with the right modes, answers /healthz and /metrics, and stops
cleanly on SIGTERM.
"""
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "apiserver"))
import harness  # noqa: E402

IMAGE = os.environ["IMAGE"]
PODMAN = shlex.split(os.environ["PODMAN"])
RENDER = os.environ.get("RENDER")
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
NAME = "seccomp-syncd-e2e-%d" % os.getpid()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


def daemonset(port):
    if RENDER:
        out = subprocess.run([RENDER, os.path.join(ROOT, "charts", "seccomp-syncd"), "--set",
                              "metrics.port=%d" % port, "--show-only",
                              "templates/daemonset.yaml"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    else:
        with open(os.path.join(ROOT, "deploy", "daemonset.yaml"), encoding="utf-8") as f:
            out = f.read().replace(":9120", ":%d" % port)
    return next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "DaemonSet")


def main():
    tmp = tempfile.mkdtemp(prefix="seccomp-syncd-image-")
    srv = None
    started = False
    ok = False
    try:
        srv = harness.start_server(os.path.join(tmp, "api"), host="127.0.0.1")
        with open(os.path.join(ROOT, "deploy", "examples", "demo-profile.yaml"),
                  encoding="utf-8") as f:
            cm = next(d for d in yaml.safe_load_all(f) if d)
        ns = cm["metadata"]["namespace"]
        r = srv.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": ns}})
        if r.status not in (200, 201, 409):
            raise SystemExit("cannot create namespace %s: %d %r" % (ns, r.status, r.body))
        r = srv.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, cm)
        if r.status not in (200, 201):
            raise SystemExit("cannot create the demo ConfigMap: %d %r" % (r.status, r.body))

        port = free_port()
        ds = daemonset(port)
        spec = ds["spec"]["template"]["spec"]
        c = spec["containers"][0]
        sc = c["securityContext"]
        mount = c["volumeMounts"][0]["mountPath"]
        seccomp_dir = os.path.join(tmp, "host-seccomp")
        os.makedirs(seccomp_dir)
        sa = os.path.join(tmp, "sa")
        os.makedirs(sa)
        shutil.copy(srv.ready["ca"], os.path.join(sa, "ca.crt"))
        shutil.copy(srv.ready["token_file"], os.path.join(sa, "token"))
        with open(os.path.join(sa, "namespace"), "w", encoding="utf-8") as f:
            f.write(ds["metadata"]["namespace"])

        cmd = PODMAN + ["run", "-d", "--name", NAME, "--network=host",
                        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                        "--user", "%d:%d" % (sc["runAsUser"], sc["runAsGroup"]),
                        "-v", "%s:%s" % (seccomp_dir, mount),
                        "-v", "%s:%s:ro" % (sa, SA_DIR),
                        "-e", "KUBERNETES_SERVICE_HOST=127.0.0.1",
                        "-e", "KUBERNETES_SERVICE_PORT=%d" % srv.port,
                        "-e", "NODE_NAME=node-e2e"]
        if sc.get("readOnlyRootFilesystem"):
            cmd.append("--read-only")
        if sc.get("allowPrivilegeEscalation") is False:
            cmd += ["--security-opt", "no-new-privileges"]
        for cap in sc["capabilities"]["drop"]:
            cmd += ["--cap-drop", cap]
        for e in c.get("env", []):
            if "value" in e:
                cmd += ["-e", "%s=%s" % (e["name"], e["value"])]
        cmd += [IMAGE] + c["args"]
        print("+ " + " ".join(shlex.quote(x) for x in cmd[len(PODMAN):]))
        started = True  # even a failed `run -d` can leave a created container behind
        subprocess.run(cmd, check=True, timeout=120, stdout=subprocess.DEVNULL)

        # The readiness probe, as the kubelet would poll it.
        probe = c["readinessProbe"]["httpGet"]["path"]
        deadline = time.monotonic() + 60
        while http_get(port, probe)[0] != 200:
            if time.monotonic() > deadline:
                raise SystemExit("%s never became 200" % probe)
            state = subprocess.run(PODMAN + ["inspect", "-f", "{{.State.Running}}", NAME],
                                   capture_output=True, text=True, timeout=60).stdout.strip()
            if state != "true":
                raise SystemExit("the container stopped before it was ready")
            time.sleep(0.2)
        status, _ = http_get(port, c["livenessProbe"]["httpGet"]["path"])
        if status != 200:
            raise SystemExit("/healthz answered %d" % status)
        status, metrics = http_get(port, "/metrics")
        if status != 200 or "seccomp_syncd_" not in metrics:
            raise SystemExit("/metrics answered %d without seccomp_syncd_ metrics" % status)

        base = os.path.join(seccomp_dir, "operator", ns, cm["metadata"]["name"])
        for key, body in cm["data"].items():
            p = os.path.join(base, key)
            with open(p, encoding="utf-8") as f:
                if f.read() != body:
                    raise SystemExit("%s differs from the ConfigMap" % p)
            mode = os.stat(p).st_mode & 0o777
            if mode != 0o644:
                raise SystemExit("%s has mode %o, expected 644" % (p, mode))
        print("image e2e: ready, %d profiles written, /healthz and /metrics answer"
              % len(cm["data"]))

        rc = subprocess.run(PODMAN + ["stop", "-t", "20", NAME], capture_output=True, timeout=60)
        code = subprocess.run(PODMAN + ["inspect", "-f", "{{.State.ExitCode}}", NAME],
                              capture_output=True, text=True, timeout=60).stdout.strip()
        if rc.returncode != 0 or code != "0":
            raise SystemExit("SIGTERM: exit code %s, expected 0" % code)
        print("image e2e: stopped cleanly on SIGTERM")
        ok = True
    finally:
        if started:
            if not ok:
                logs = subprocess.run(PODMAN + ["logs", NAME], capture_output=True, text=True,
                                      timeout=60)
                sys.stdout.write(logs.stdout[-3000:] + logs.stderr[-3000:])
            subprocess.run(PODMAN + ["rm", "-f", "-t", "0", NAME], capture_output=True, timeout=60)
        if srv:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
