#!/usr/bin/python3
"""Deployment checks: the chart, deploy/ and the renderer agree with DESIGN.md.

Run by `make check-deploy` and tests/integration/test_deploy.sh.  RENDER is the
renderer binary (tests/deploy/render, built by mk/deploy.mk); BUILD, when it
holds a seccomp-syncd binary, lets the flags the chart passes be checked
against the daemon's own `run --help`.  Every check is a function; a failure
prints what differs and the program exits 1.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "charts", "seccomp-syncd")
DEPLOY = os.path.join(ROOT, "deploy")
RENDER = os.environ.get("RENDER") or os.path.join(ROOT, "build", "deploy", "render")
BUILD = os.environ.get("BUILD", "build")
KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
YAMLLINT_CONFIG = os.path.join(ROOT, "tests", "deploy", ".yamllint")
GENERATED = "# Generated from charts/seccomp-syncd by tests/deploy/render"
TIMEOUT = 60

# What the daemon does with the API (K8S-API.md), and nothing more.
REQUIRED_RBAC = {
    ("", "configmaps"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("", "pods"): {"list", "watch"},
}
NAMESPACED_RESOURCES = {("", "configmaps"), ("", "events")}


class CheckError(Exception):
    pass


def fail(msg):
    raise CheckError(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


def render(*args, ok=True):
    """Run the renderer on the chart; return (exit code, stdout, stderr)."""
    p = subprocess.run([RENDER, CHART, *args], capture_output=True, text=True,
                       timeout=TIMEOUT, check=False)
    if ok and p.returncode != 0:
        fail("render %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.returncode, p.stdout, p.stderr


def objects(*args):
    """The rendered objects (dicts, Source comments dropped)."""
    _, out, _ = render(*args)
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def one(objs, kind):
    found = by_kind(objs, kind)
    expect(len(found) == 1, "expected one %s, found %d" % (kind, len(found)))
    return found[0]


def container(objs):
    ds = one(objs, "DaemonSet")
    cs = ds["spec"]["template"]["spec"]["containers"]
    expect(len(cs) == 1, "expected one container, found %d" % len(cs))
    return cs[0]


def values_default():
    with open(os.path.join(CHART, "values.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


# --- the checks ---------------------------------------------------------------------------

def check_chart_metadata():
    with open(os.path.join(CHART, "Chart.yaml"), encoding="utf-8") as f:
        chart = yaml.safe_load(f)
    with open(os.path.join(ROOT, "VERSION"), encoding="utf-8") as f:
        version = f.read().strip()
    expect(chart["apiVersion"] == "v2", "Chart.yaml apiVersion must be v2")
    expect(chart["name"] == "seccomp-syncd", "chart name %r" % chart["name"])
    expect(str(chart["appVersion"]) == version,
           "Chart.yaml appVersion %r differs from VERSION %r" % (chart["appVersion"], version))
    image = container(objects())["image"]
    expect(image == "%s:%s" % (values_default()["image"]["repository"], version),
           "default image %r does not carry the tag %s" % (image, version))
    image = container(objects("--set", "image.tag=@sha256:" + "a" * 64))["image"]
    expect(image.endswith("@sha256:" + "a" * 64) and ":@" not in image,
           "a digest tag gives %r" % image)


def check_helpers_used():
    """Names and labels come from _helpers.tpl through include, in every template."""
    tdir = os.path.join(CHART, "templates")
    with open(os.path.join(tdir, "_helpers.tpl"), encoding="utf-8") as f:
        helpers = f.read()
    for name in ("name", "fullname", "labels", "selectorLabels"):
        expect('define "seccomp-syncd.%s"' % name in helpers, "_helpers.tpl lacks %s" % name)
    for fn in sorted(os.listdir(tdir)):
        if not fn.endswith(".yaml"):
            continue
        with open(os.path.join(tdir, fn), encoding="utf-8") as f:
            text = f.read()
        expect('include "seccomp-syncd.labels"' in text, "%s does not use the labels helper" % fn)
        expect("name: {{ include \"seccomp-syncd." in text or fn == "namespace.yaml",
               "%s does not name its object through a helper" % fn)


def check_regenerated():
    """deploy/ is exactly the chart rendered now (the CI regeneration check)."""
    tmp = tempfile.mkdtemp(prefix="seccomp-syncd-deploy-")
    try:
        p = subprocess.run(["sh", os.path.join(ROOT, "tests", "deploy", "render.sh"), tmp],
                           env=dict(os.environ, RENDER=RENDER), capture_output=True, text=True,
                           timeout=TIMEOUT, check=False)
        expect(p.returncode == 0, "render.sh failed: %s" % p.stderr.strip())
        fresh = generated_files(tmp)
        committed = generated_files(DEPLOY)
        expect(fresh, "render.sh wrote nothing")
        missing = sorted(set(fresh) - set(committed))
        stale = sorted(set(committed) - set(fresh))
        expect(not missing, "deploy/ lacks %s: run make render" % missing)
        expect(not stale, "deploy/ has files the chart no longer renders: %s" % stale)
        for rel in sorted(fresh):
            if fresh[rel] != committed[rel]:
                diff = subprocess.run(["diff", "-u", os.path.join(DEPLOY, rel),
                                       os.path.join(tmp, rel)],
                                      capture_output=True, text=True, check=False).stdout
                fail("deploy/%s differs from the chart: run make render\n%s" % (rel, diff[:3000]))
    finally:
        shutil.rmtree(tmp)


def generated_files(top):
    out = {}
    for d, _, files in os.walk(top):
        for fn in files:
            p = os.path.join(d, fn)
            with open(p, encoding="utf-8") as f:
                text = f.read()
            if text.startswith(GENERATED):
                out[os.path.relpath(p, top)] = text
    return out


def check_kustomization_lists_everything():
    for d in (DEPLOY, os.path.join(DEPLOY, "namespaced")):
        with open(os.path.join(d, "kustomization.yaml"), encoding="utf-8") as f:
            k = yaml.safe_load(f)
        rendered = sorted(rel for rel in generated_files(d)
                          if os.sep not in rel and rel != "kustomization.yaml")
        expect(sorted(k["resources"]) == rendered,
               "%s/kustomization.yaml lists %s, rendered: %s" % (d, k["resources"], rendered))


def check_selector_matches():
    objs = objects()
    ds = one(objs, "DaemonSet")
    sel = ds["spec"]["selector"]["matchLabels"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    expect(sel and all(labels.get(k) == v for k, v in sel.items()),
           "DaemonSet selector %s does not match its pod labels %s" % (sel, labels))
    # A DaemonSet's selector is immutable: nothing in it may change between releases.
    expect(sel == {"app.kubernetes.io/name": "seccomp-syncd",
                   "app.kubernetes.io/instance": "seccomp-syncd"},
           "selector %s: only the name and instance labels belong there" % sel)
    svc = one(objs, "Service")
    expect(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
           "Service selector %s does not match the pods" % svc["spec"]["selector"])
    # podLabels must not be able to break the selector.
    ds = one(objects("--set", "podLabels.team=x"), "DaemonSet")
    labels = ds["spec"]["template"]["metadata"]["labels"]
    expect(labels.get("team") == "x" and all(labels.get(k) == v for k, v in sel.items()),
           "podLabels break the selector: %s" % labels)


def rbac_grants(objs, sa_name, sa_ns):
    """(apiGroup, resource) -> verbs, and the namespaces of each Role, for sa."""
    roles = {}
    for r in by_kind(objs, "ClusterRole") + by_kind(objs, "Role"):
        roles[(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"])] = r
    grants = {}
    role_namespaces = {}
    for b in by_kind(objs, "ClusterRoleBinding") + by_kind(objs, "RoleBinding"):
        expect(any(s.get("kind") == "ServiceAccount" and s["name"] == sa_name and
                   s.get("namespace") == sa_ns for s in b["subjects"]),
               "%s %s is not bound to the ServiceAccount" % (b["kind"], b["metadata"]["name"]))
        expect(len(b["subjects"]) == 1, "%s binds extra subjects" % b["metadata"]["name"])
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], ns, ref["name"]))
        expect(role is not None, "%s refers to a missing %s %s" % (b["kind"], ref["kind"],
                                                                   ref["name"]))
        for rule in role["rules"]:
            expect(not rule.get("resourceNames") and not rule.get("nonResourceURLs"),
                   "unexpected rule %s" % rule)
            for g in rule["apiGroups"]:
                for res in rule["resources"]:
                    expect("*" not in (g, res) and "*" not in rule["verbs"],
                           "wildcard in rule %s" % rule)
                    grants.setdefault((g, res), set()).update(rule["verbs"])
                    role_namespaces.setdefault((g, res), set()).add(ns)
    return grants, role_namespaces


def check_rbac_cluster_wide():
    objs = objects()
    sa = one(objs, "ServiceAccount")
    ds = one(objs, "DaemonSet")
    expect(ds["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"],
           "the DaemonSet does not run as the chart's ServiceAccount")
    grants, where = rbac_grants(objs, sa["metadata"]["name"], sa["metadata"]["namespace"])
    expect(grants == REQUIRED_RBAC, "RBAC grants %s, the daemon uses exactly %s"
           % (sorted((k, sorted(v)) for k, v in grants.items()),
              sorted((k, sorted(v)) for k, v in REQUIRED_RBAC.items())))
    expect(all(ns == {None} for ns in where.values()), "cluster-wide mode uses Roles: %s" % where)
    expect(not by_kind(objs, "Role") and not by_kind(objs, "RoleBinding"),
           "cluster-wide mode renders Roles")


def check_rbac_namespaced():
    objs = objects("--set", "namespaces={team-a,team-b}")
    sa = one(objs, "ServiceAccount")
    grants, where = rbac_grants(objs, sa["metadata"]["name"], sa["metadata"]["namespace"])
    expect(grants == REQUIRED_RBAC, "namespaced RBAC grants %s" % grants)
    for key in NAMESPACED_RESOURCES:
        expect(where[key] == {"team-a", "team-b"},
               "%s is granted in %s, expected the Roles of team-a and team-b" % (key, where[key]))
    expect(where[("", "pods")] == {None}, "pods must stay cluster-wide (pods of this node)")
    roles = sorted(r["metadata"]["namespace"] for r in by_kind(objs, "Role"))
    expect(roles == ["team-a", "team-b"], "Roles in %s" % roles)
    args = container(objs)["args"]
    expect([a for a in args if a.startswith("--namespace")] ==
           ["--namespace=team-a", "--namespace=team-b"], "namespace flags in %s" % args)
    expect("--namespace" not in " ".join(container(objects())["args"]),
           "cluster-wide mode passes --namespace")
    # rbac.create=false renders no RBAC at all (for clusters that manage it elsewhere).
    objs = objects("--set", "rbac.create=false,namespaces={a}")
    expect(not [o for o in objs if "Role" in o["kind"]], "rbac.create=false still renders RBAC")


def check_namespaced_variant():
    """deploy/namespaced/ is the chart with its values.yaml and watches those namespaces."""
    d = os.path.join(DEPLOY, "namespaced")
    with open(os.path.join(d, "values.yaml"), encoding="utf-8") as f:
        nss = yaml.safe_load(f)["namespaces"]
    expect(nss, "deploy/namespaced/values.yaml lists no namespace")
    objs = kustomize(d)
    roles = sorted(r["metadata"]["namespace"] for r in by_kind(objs, "Role"))
    expect(roles == sorted(nss), "deploy/namespaced has Roles in %s, expected %s" % (roles, nss))
    args = container(objs)["args"]
    for ns in nss:
        expect("--namespace=%s" % ns in args, "deploy/namespaced does not pass --namespace=%s" % ns)


def check_hostpath():
    for kdir in ("/var/lib/kubelet", "/var/lib/k0s/kubelet"):
        objs = objects("--set", "kubeletDir=" + kdir)
        ds = one(objs, "DaemonSet")
        spec = ds["spec"]["template"]["spec"]
        vols = spec["volumes"]
        expect(len(vols) == 1, "expected one volume, found %s" % vols)
        hp = vols[0].get("hostPath")
        expect(hp == {"path": kdir + "/seccomp", "type": "DirectoryOrCreate"},
               "hostPath %s, expected %s/seccomp DirectoryOrCreate" % (hp, kdir))
        c = container(objs)
        mounts = c["volumeMounts"]
        expect(len(mounts) == 1 and mounts[0]["name"] == vols[0]["name"] and
               mounts[0]["mountPath"] == kdir + "/seccomp" and not mounts[0].get("readOnly"),
               "mount %s, expected %s/seccomp read-write" % (mounts, kdir))
        expect("--kubelet-dir=%s" % kdir in c["args"], "--kubelet-dir not passed: %s" % c["args"])
        for k in ("hostNetwork", "hostPID", "hostIPC"):
            expect(not spec.get(k), "%s is set" % k)


def check_security_context():
    objs = objects()
    spec = one(objs, "DaemonSet")["spec"]["template"]["spec"]
    psc = spec["securityContext"]
    expect(psc.get("runAsUser") == 0 and psc.get("seccompProfile") == {"type": "RuntimeDefault"},
           "pod securityContext %s" % psc)
    sc = container(objs)["securityContext"]
    want = {"runAsUser": 0, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "privileged": False, "seccompProfile": {"type": "RuntimeDefault"}}
    for k, v in want.items():
        expect(sc.get(k) == v, "container securityContext.%s is %r, expected %r"
               % (k, sc.get(k), v))
    expect(sc.get("capabilities") == {"drop": ["ALL"]},
           "capabilities %s, expected drop [ALL] and nothing added" % sc.get("capabilities"))
    ns = one(objs, "Namespace")
    expect(ns["metadata"]["name"] == "seccomp-syncd" and
           ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
           "namespace %s is not labelled for hostPath" % ns["metadata"])
    expect(not by_kind(objects("--set", "namespace.create=false"), "Namespace"),
           "namespace.create=false still renders a Namespace")


def check_probes_and_port():
    for port in (9120, 9300):
        objs = objects("--set", "metrics.port=%d" % port)
        c = container(objs)
        ports = {p["name"]: p for p in c["ports"]}
        expect(ports.get("metrics", {}).get("containerPort") == port,
               "container port 'metrics' is %s" % ports)
        expect("--listen=:%d" % port in c["args"], "--listen does not match port %d" % port)
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            g = c[probe].get("httpGet")
            expect(g == {"path": path, "port": "metrics"},
                   "%s is %s, expected %s on the named port" % (probe, g, path))
            other = {"tcpSocket", "exec", "grpc"} & set(c[probe])
            expect(not other, "%s has another handler too: %s" % (probe, other))
        svc = one(objs, "Service")
        expect(svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"] ==
               [{"name": "metrics", "port": 9120, "targetPort": "metrics", "protocol": "TCP"}],
               "metrics Service %s" % svc["spec"])


def check_node_name_and_args():
    objs = objects("--set", "labelSelector=profiles=true,logFormat=json,logLevel=debug")
    c = container(objs)
    env = {e["name"]: e for e in c["env"]}
    expect(env.get("NODE_NAME", {}).get("valueFrom") ==
           {"fieldRef": {"fieldPath": "spec.nodeName"}}, "NODE_NAME is %s" % env.get("NODE_NAME"))
    expect(c["args"][0] == "run", "the first argument is %r, expected run" % c["args"][0])
    for a in ("--label-selector=profiles=true", "--log-format=json", "--log-level=debug",
              "--annotation=seccomp.security.kubernetes.io/profile"):
        expect(a in c["args"], "%s not in %s" % (a, c["args"]))
    objs = objects("--set", "extraEnv[0].name=SECCOMP_SYNCD_EVENTS_PER_MINUTE",
                   "--set-string", "extraEnv[0].value=30,podAnnotations.a=1")
    c = container(objs)
    expect({"name": "SECCOMP_SYNCD_EVENTS_PER_MINUTE", "value": "30"} in c["env"],
           "extraEnv missing: %s" % c["env"])
    meta = one(objs, "DaemonSet")["spec"]["template"]["metadata"]
    expect(meta.get("annotations") == {"a": "1"}, "podAnnotations: %s" % meta)


def check_flags_known_to_daemon():
    """Every flag the chart passes is one `seccomp-syncd run --help` lists."""
    binary = os.path.join(ROOT, BUILD, "seccomp-syncd")
    if not os.access(binary, os.X_OK):
        print("    (no %s: flags not checked against the daemon)" % binary)
        return
    p = subprocess.run([binary, "run", "--help"], capture_output=True, text=True,
                       timeout=TIMEOUT, check=False)
    known = set(re.findall(r"--([a-z][-a-z]*)", p.stdout + p.stderr))
    expect("kubelet-dir" in known, "cannot read the flags from run --help: %s" % p.stdout[:500])
    objs = objects("--set", "namespaces={a},labelSelector=x=y")
    for a in container(objs)["args"][1:]:
        flag = a[2:].split("=", 1)[0]
        expect(a.startswith("--") and flag in known, "the daemon has no flag %r" % a)


def check_footprint_and_scheduling():
    objs = objects()
    ds = one(objs, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    res = container(objs)["resources"]
    expect(res == {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
           "resources %s" % res)
    expect(spec["tolerations"] == [{"operator": "Exists"}], "tolerations %s" % spec["tolerations"])
    expect(spec["priorityClassName"] == "system-node-critical", "priorityClassName")
    us = ds["spec"]["updateStrategy"]
    expect(us == {"type": "RollingUpdate",
                  "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}},
           "updateStrategy %s" % us)


def check_service_monitor():
    expect(not by_kind(objects(), "ServiceMonitor"), "ServiceMonitor rendered by default")
    objs = objects("--set", "metrics.serviceMonitor.enabled=true,"
                   "metrics.serviceMonitor.labels.release=prom")
    sm = one(objs, "ServiceMonitor")
    svc = one(objs, "Service")
    expect(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor %s" % sm["apiVersion"])
    expect(sm["metadata"]["labels"].get("release") == "prom", "ServiceMonitor labels")
    sel = sm["spec"]["selector"]["matchLabels"]
    expect(all(svc["metadata"]["labels"].get(k) == v for k, v in sel.items()),
           "ServiceMonitor selector %s misses the Service" % sel)
    expect(sm["spec"]["endpoints"][0]["port"] == "metrics", "ServiceMonitor port")
    rc, _, err = render("--set", "metrics.serviceMonitor.enabled=true,"
                        "metrics.service.enabled=false", ok=False)
    expect(rc != 0 and "metrics.service.enabled" in err,
           "a ServiceMonitor without its Service renders (%d): %s" % (rc, err))
    expect(not by_kind(objects("--set", "metrics.service.enabled=false"), "Service"),
           "metrics.service.enabled=false still renders the Service")


# (--set argument, the key the schema error must name)
BAD_VALUES = [
    ("logFormat=xml", "logFormat"),
    ("logLevel=trace", "logLevel"),
    ("kubeletDir=var/lib/kubelet", "kubeletDir"),
    ("kubeletDir=/var/lib/../../etc", "kubeletDir"),
    ("kubeletDir=/var/lib/kubelet/", "kubeletDir"),
    ("kubeletDir=/", "kubeletDir"),
    ("namespaces={Team_A}", "namespaces.0"),
    ("namespaces={a,a}", "namespaces"),
    ("namespaces={-a}", "namespaces.0"),
    ("namespaces=kube-system", "namespaces"),
    ("annotation=not an annotation", "annotation"),
    ("updateStrategy.rollingUpdate.maxSurge=1", "updateStrategy"),
    ("updateStrategy.rollingUpdate.maxSurge=10%", "updateStrategy"),
    ("metrics.port=70000", "metrics.port"),
    ("image.pullPolicy=Sometimes", "image.pullPolicy"),
    ("image.repository=", "image.repository"),
    ("logformat=json", "logformat"),
    ("resources.request.cpu=1", "resources"),
    ("nodeSelector.zone=1", "nodeSelector.zone"),
    ("extraEnv[0].value=x", "extraEnv.0"),
    ("extraEnv[0].name=A,extraEnv[0].value=30", "extraEnv.0.value"),
    ("podLabels.a=true", "podLabels.a"),
]
GOOD_VALUES = [
    "logFormat=json,logLevel=debug",
    "kubeletDir=/var/lib/k0s/kubelet",
    "namespaces={a,team-b}",
    "updateStrategy.type=OnDelete,updateStrategy.rollingUpdate=null",
    "updateStrategy.rollingUpdate.maxUnavailable=1",
    "annotation=example.com/seccomp-profile",
]


def check_schema_rejects_bad_values():
    for arg, key in BAD_VALUES:
        rc, out, err = render("--set", arg, ok=False)
        expect(rc != 0 and not out, "--set %s was accepted" % arg)
        lines = [l for l in err.splitlines() if l.startswith("- ")]
        expect("values don't meet the specifications" in err and
               any(re.search(r"(^- |\b)%s\b" % re.escape(key), l) for l in lines),
               "--set %s: the error does not name %s: %s" % (arg, key, err.strip()))
    for arg in GOOD_VALUES:
        render("--set", arg)


def check_notes():
    _, out, _ = render("--notes")
    for want in ("localhostProfile: operator/NAMESPACE/CONFIGMAP/KEY",
                 'seccomp.security.kubernetes.io/profile="true"', "type: Localhost",
                 "/var/lib/kubelet/seccomp/operator/"):
        expect(want in out, "NOTES.txt lacks %r:\n%s" % (want, out))
    _, out, _ = render("--notes", "--set", "namespaces={a,b},labelSelector=team=x")
    expect("the namespaces a, b" in out and "label configmap CONFIGMAP team=x" in out,
           "NOTES.txt ignores namespaces/labelSelector:\n%s" % out)
    _, out, _ = render()
    expect("NOTES" not in out, "NOTES.txt is among the manifests")


def check_renderer_semantics():
    """The Helm behaviours the chart relies on: --set typing, nulls, -f order, required."""
    vals = json.loads(render("--show-values", "--set",
                             "metrics.port=9300,metrics.serviceMonitor.enabled=true",
                             "--set-string", "podLabels.b=true")[1])
    expect(vals["metrics"]["port"] == 9300 and vals["metrics"]["serviceMonitor"]["enabled"] is True
           and vals["podLabels"] == {"b": "true"},
           "--set typing: %s %s" % (vals["metrics"], vals["podLabels"]))
    expect(vals["metrics"]["service"]["port"] == 9120, "--set replaced a whole map")
    vals = json.loads(render("--show-values", "--set", "nodeSelector=null")[1])
    expect("nodeSelector" not in vals, "a null --set does not delete the default")
    with tempfile.TemporaryDirectory() as tmp:
        f1, f2 = os.path.join(tmp, "1.yaml"), os.path.join(tmp, "2.yaml")
        with open(f1, "w", encoding="utf-8") as f:
            f.write("logLevel: debug\nlogFormat: json\n")
        with open(f2, "w", encoding="utf-8") as f:
            f.write("logLevel: warn\n")
        vals = json.loads(render("--show-values", "-f", f1, "-f", f2, "--set",
                                 "logFormat=text")[1])
        expect((vals["logLevel"], vals["logFormat"]) == ("warn", "text"),
               "-f/--set precedence: %s %s" % (vals["logLevel"], vals["logFormat"]))
    rc, _, err = render("--set", "serviceAccount.create=false", ok=False)
    expect(rc != 0 and "serviceAccount.name is required" in err, "required does not fail")
    objs = objects("--set", "serviceAccount.create=false,serviceAccount.name=existing")
    expect(not by_kind(objs, "ServiceAccount") and
           one(objs, "DaemonSet")["spec"]["template"]["spec"]["serviceAccountName"] == "existing",
           "serviceAccount.create=false")
    objs = objects("--release", "prod", "--namespace", "ops")
    ds = one(objs, "DaemonSet")
    expect(ds["metadata"]["name"] == "prod-seccomp-syncd" and ds["metadata"]["namespace"] == "ops",
           "release name/namespace: %s" % ds["metadata"])
    rc, _, err = render("--kube-version", "v1.20.0", ok=False)
    expect(rc != 0 and "kubeVersion" in err, "Chart.yaml kubeVersion not enforced")
    rc, _, err = render("--show-only", "templates/nothing.yaml", ok=False)
    expect(rc != 0, "--show-only of a missing template succeeded")


def check_go_unit_tests():
    go_env = dict(os.environ)
    for kv in os.environ.get("GO_OFFLINE", "").split():
        k, v = kv.split("=", 1)
        go_env[k] = v
    if "GOPATH" not in go_env or go_env.get("GO111MODULE") != "off":
        go_env.update(GO111MODULE="off", GOPATH="/usr/share/gocode", GOPROXY="off", GOFLAGS="",
                      GOENV="off", GOCACHE=os.path.join(ROOT, "build", "go-cache"))
    p = subprocess.run(["go", "test", "-count=1", "./tests/deploy/render"], cwd=ROOT, env=go_env,
                       capture_output=True, text=True, timeout=300, check=False)
    expect(p.returncode == 0, "go test failed:\n%s%s" % (p.stdout, p.stderr))


def kustomize(d):
    p = subprocess.run([KUBECTL, "kustomize", d], capture_output=True, text=True,
                       timeout=TIMEOUT, check=False)
    expect(p.returncode == 0, "kubectl kustomize %s failed: %s" % (d, p.stderr.strip()))
    return [o for o in yaml.safe_load_all(p.stdout) if o]


def check_kustomize_builds():
    """`kubectl apply -k deploy/` sees the same objects the chart renders.

    A client-side `kubectl apply --dry-run=client` needs an API server for discovery, so
    kubectl's own kustomize build is what is checked here."""
    expect(os.access(KUBECTL, os.X_OK), "%s not found" % KUBECTL)
    for d, args in ((DEPLOY, []), (os.path.join(DEPLOY, "namespaced"),
                                   ["-f", os.path.join(DEPLOY, "namespaced", "values.yaml")])):
        built = kustomize(d)
        want = objects(*args)
        key = lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        expect(sorted(map(key, built)) == sorted(map(key, want)),
               "kubectl kustomize %s gives %s, the chart %s" % (d, sorted(map(key, built)),
                                                               sorted(map(key, want))))
        wmap = {key(o): o for o in want}
        for o in built:
            expect(o == wmap[key(o)], "kubectl kustomize %s changes %s" % (d, key(o)))
        for o in built:
            if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding", "Role",
                                 "RoleBinding"):
                expect(o["metadata"].get("namespace") == "seccomp-syncd",
                       "%s is not in namespace seccomp-syncd" % (key(o),))
    # kustomize orders the Namespace first, so one apply creates everything.
    expect(kustomize(DEPLOY)[0]["kind"] == "Namespace", "the Namespace is not applied first")


def check_yamllint():
    files = [DEPLOY, os.path.join(CHART, "values.yaml"), os.path.join(CHART, "Chart.yaml")]
    p = subprocess.run(["yamllint", "-s", "-f", "parsable", "-c", YAMLLINT_CONFIG, *files],
                       capture_output=True, text=True, timeout=TIMEOUT, check=False)
    expect(p.returncode == 0, "yamllint:\n%s%s" % (p.stdout, p.stderr))
    # The configuration is live: a YAML 1.1 boolean and a bad indent are caught.
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.yaml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("a:\n   b: yes\n")
        p = subprocess.run(["yamllint", "-s", "-f", "parsable", "-c", YAMLLINT_CONFIG, bad],
                           capture_output=True, text=True, timeout=TIMEOUT, check=False)
        expect(p.returncode != 0 and "truthy" in p.stdout and "indentation" in p.stdout,
               "yamllint does not catch a bad file: %s" % p.stdout)


def check_schema_file():
    with open(os.path.join(CHART, "values.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    expect(schema.get("additionalProperties") is False, "the schema accepts unknown keys")
    defaults = values_default()
    expect(set(defaults) <= set(schema["properties"]),
           "values.yaml keys without a schema: %s" % (set(defaults) - set(schema["properties"])))


CHECKS = [v for k, v in sorted(globals().items()) if k.startswith("check_") and callable(v)]


def main():
    if not os.access(RENDER, os.X_OK):
        print("check.py: renderer %s missing (make check-deploy builds it)" % RENDER)
        return 1
    failed = 0
    for c in CHECKS:
        try:
            c()
            print("ok:   %s" % c.__name__)
        except (CheckError, subprocess.TimeoutExpired, KeyError, TypeError, OSError) as e:
            failed += 1
            print("FAIL: %s: %s: %s" % (c.__name__, type(e).__name__, e))
    print("check-deploy: %d passed, %d failed" % (len(CHECKS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
