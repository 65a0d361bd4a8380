#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`seccomp-syncd validate`, `version` and the command line, run as a user would run them.

Every check runs the binary ($BUILD/seccomp-syncd) on files in a temporary directory and
looks at the exit code, the text output and the JSON output.  Exits non-zero on any failure.
"""
import base64
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
BIN = os.path.join(ROOT, BUILD, "seccomp-syncd") if not os.path.isabs(BUILD) else \
    os.path.join(BUILD, "seccomp-syncd")
PROFILES = sorted(glob.glob(os.path.join(ROOT, "tests/data/profiles/*.json")))
EXAMPLE = os.path.join(ROOT, "deploy/examples/demo-profile.yaml")
ANN = "seccomp.security.kubernetes.io/profile"
NATIVE = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(platform.machine())

RESULT_KEYS = {"file", "valid", "errors", "warnings", "architectures", "bpf_instructions"}

failures = []
checks = 0


def run(*args, stdin=None, cwd=None):
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=120,
                       cwd=cwd or ROOT, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what, detail=""):
    global checks
    checks += 1
    if not cond:
        failures.append(f"{what}{': ' + detail if detail else ''}")


def run_json(*args, stdin=None, cwd=None):
    rc, out, err = run("validate", "--format", "json", *args, stdin=stdin, cwd=cwd)
    try:
        doc = json.loads(out)
    except ValueError as e:
        check(False, f"JSON output of {args} parses", f"{e}: {out[:300]!r}")
        return rc, {"results": []}, err
    check_schema(doc, args)
    return rc, doc, err


def check_schema(doc, args):
    check(isinstance(doc, dict) and set(doc) == {"results"}, f"{args}: top level is {{results}}",
          repr(doc)[:200])
    for r in doc.get("results", []):
        check(set(r) == RESULT_KEYS, f"{args}: result keys", repr(sorted(r)))
        check(isinstance(r.get("file"), str), f"{args}: file is a string")
        check(isinstance(r.get("valid"), bool), f"{args}: valid is a bool")
        check(isinstance(r.get("bpf_instructions"), int) and r["bpf_instructions"] >= 0,
              f"{args}: bpf_instructions is a count")
        check(isinstance(r.get("architectures"), list) and
              all(isinstance(a, str) for a in r["architectures"]), f"{args}: architectures")
        for kind in ("errors", "warnings"):
            check(isinstance(r.get(kind), list), f"{args}: {kind} is a list")
            for f in r.get(kind, []):
                check(isinstance(f, dict) and {"path", "message"} <= set(f) <=
                      {"path", "message", "view"}, f"{args}: finding keys", repr(f))
                check(isinstance(f.get("path"), str) and isinstance(f.get("message"), str) and
                      f.get("message") != "", f"{args}: finding types", repr(f))
                if "view" in f:
                    check(f["view"] in ("containerd", "cri-o"), f"{args}: view", repr(f))
        check(r.get("valid") == (not r.get("errors")), f"{args}: valid iff no errors", repr(r)[:300])


def write(d, name, data):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def configmap(name, ns, data, ann='"true"', binary=None):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {name}"]
    if ns:
        lines.append(f"  namespace: {ns}")
    lines += ["  annotations:", f"    {ANN}: {ann}"]
    if data:
        lines.append("data:")
        for k, v in data.items():
            lines.append(f"  {k}: |")
            lines += ["    " + ln for ln in v.splitlines()]
    if binary:
        lines.append("binaryData:")
        for k, v in binary.items():
            lines.append(f"  {k}: {base64.b64encode(v.encode()).decode()}")
    return "\n".join(lines) + "\n"


GOOD = '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write"], ' \
    '"action": "SCMP_ACT_ALLOW"}]}'
BROKEN = [
    # (file name, profile, a path that must carry an error)
    ("bad-action.json", '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], '
     '"action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_ALOW"}]}',
     "syscalls[1].action"),
    ("bad-op.json", '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], '
     '"action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}',
     "syscalls[0].args[0].op"),
    ("bad-index.json", '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], '
     '"action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}',
     "syscalls[0].args[0].index"),
    ("bad-arch.json", '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", '
     '"SCMP_ARCH_NATIVE"]}', "architectures[1]"),
    ("bad-errno.json", '{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096}',
     "defaultErrnoRet"),
]


def test_shared_profiles():
    rc, out, err = run("validate", *PROFILES)
    check(rc == 0, "shared profiles: exit 0", f"rc={rc} {out[-500:]} {err[-300:]}")
    for p in PROFILES:
        check(f"{p}: valid (" in out, f"shared profiles: summary line for {os.path.basename(p)}")
    check("error:" not in out, "shared profiles: no error lines")
    rc, doc, _ = run_json(*PROFILES)
    check(rc == 0, "shared profiles json: exit 0")
    res = doc["results"]
    check([r["file"] for r in res] == PROFILES, "shared profiles json: one result per file")
    for r in res:
        check(r["valid"] and r["bpf_instructions"] > 0 and r["architectures"],
              f"shared profiles json: {os.path.basename(r['file'])} valid and compiled")
        if NATIVE:
            check(r["architectures"][:1] == [NATIVE], "shared profiles: native arch first",
                  repr(r["architectures"]))


def test_broken(d):
    paths = [write(d, name, text) for name, text, _ in BROKEN]
    for (name, _, jpath), p in zip(BROKEN, paths):
        rc, out, _ = run("validate", p)
        check(rc == 1, f"{name}: exit 1", f"rc={rc} {out}")
        check(f"{p}: invalid (" in out, f"{name}: invalid summary", out)
        lines = [ln for ln in out.splitlines() if ln.startswith(f"{p}: error: {jpath}")]
        check(lines, f"{name}: text error line for {jpath}", out)
        rc, doc, _ = run_json(p)
        check(rc == 1, f"{name}: json exit 1")
        r = doc["results"][0] if doc["results"] else {}
        check(r.get("valid") is False, f"{name}: json valid false")
        check(any(e["path"] == jpath for e in r.get("errors", [])), f"{name}: json path {jpath}",
              repr(r.get("errors")))
    good = write(d, "good.json", GOOD)
    rc, doc, _ = run_json(good, *paths)
    check(rc == 1, "good and broken together: exit 1")
    check([r["valid"] for r in doc["results"]] == [True] + [False] * len(paths),
          "good and broken together: verdicts in order")
    # Would run unconfined, or is not a profile at all.
    for name, text in (("empty-object.json", "{}"), ("null.json", "null"), ("empty.json", ""),
                       ("array.json", "[]"), ("not-json.json", '{"defaultAction": SCMP_ACT_ERRNO}'), ("trailing.json", GOOD + " {}")):
        p = write(d, name, text)
        rc, out, err = run("validate", p)
        check(rc == 1, f"{name}: exit 1 (invalid)", f"rc={rc} {out} {err}")


def test_stdin():
    with open(PROFILES[0], "rb") as f:
        data = f.read()
    rc, out, _ = run("validate", "-", stdin=data)
    check(rc == 0, "stdin profile: exit 0", out)
    check(out.splitlines()[-1:] and out.splitlines()[-1].startswith("<stdin>: valid ("),
          "stdin profile: named <stdin>", out[-300:])
    rc, doc, _ = run_json("-", stdin=b'{"defaultAction": "SCMP_ACT_KILLL"}')
    check(rc == 1 and doc["results"][0]["file"] == "<stdin>", "stdin broken profile: exit 1")
    with open(EXAMPLE, "rb") as f:
        data = f.read()
    rc, doc, _ = run_json("-", stdin=data)
    check(rc == 0, "stdin manifest: exit 0")
    check([r["file"] for r in doc["results"]] ==
          [f"<stdin>:seccomp-operator/demo-profile:{k}"
           for k in ("audit.json", "violation.json", "fine-grained.json")],
          "stdin manifest: names", repr([r["file"] for r in doc["results"]]))


def test_arch(d):
    p = write(d, "arch.json", GOOD)
    for arch in ("aarch64", "arm64"):
        for args in (("--arch", arch), (f"--arch={arch}",)):
            rc, doc, _ = run_json(*args, p)
            check(rc == 0, f"{args}: exit 0")
            r = doc["results"][0] if doc["results"] else {}
            check(r.get("architectures", [None])[0] == "aarch64", f"{args}: compiled for aarch64",
                  repr(r.get("architectures")))
    rc, doc, _ = run_json("--arch", "amd64", p)
    check(rc == 0 and doc["results"][0]["architectures"][0] == "x86_64", "--arch amd64: x86_64")
    rc, out, _ = run("validate", "--arch", "arm64", EXAMPLE)
    check(rc == 0 and out.count("BPF instructions, aarch64") == 3, "--arch arm64 manifest: text names aarch64", out)
    for bogus in ("bogus", "", "SCMP_ARCH_X86_64"):
        rc, out, err = run("validate", "--arch", bogus, p)
        check(rc == 2, f"--arch {bogus!r}: exit 2", f"rc={rc}")
        check("architecture" in err and out == "", f"--arch {bogus!r}: says why on stderr", err)
    rc, _, err = run("validate", p, "--arch")
    check(rc == 2 and "needs a value" in err, "--arch without a value: exit 2", err)


def test_io_errors(d):
    missing = os.path.join(d, "does-not-exist.json")
    rc, out, err = run("validate", missing)
    check(rc == 2, "missing file: exit 2", f"rc={rc}")
    check(f"{missing}: error: cannot open" in err, "missing file: message on stderr", err)
    rc, doc, _ = run_json(missing)
    check(rc == 2 and doc["results"] and doc["results"][0]["valid"] is False and
          doc["results"][0]["errors"], "missing file json: exit 2 and an error result")
    good = write(d, "ok.json", GOOD)
    bad = write(d, "bad.json", BROKEN[0][1])
    rc, out, _ = run("validate", good, missing, bad)
    check(rc == 2, "missing among others: exit 2 wins", f"rc={rc}")
    check(f"{good}: valid (" in out and f"{bad}: invalid (" in out,
          "missing among others: the rest is still checked", out)
    rc, _, err = run("validate", d)
    check(rc == 2 and "cannot read" in err, "a directory: exit 2", err)
    big = write(d, "big.json", '{"defaultAction": "SCMP_ACT_ERRNO", "comment": "' +
                "x" * (1024 * 1024) + '"}')
    rc, _, err = run("validate", big)
    check(rc == 2 and "size limit" in err, "profile over 1 MiB: exit 2", err)
    huge = write(d, "huge.yaml", "# " + "x" * (8 * 1024 * 1024) + "\n")
    rc, _, err = run("validate", huge)
    check(rc == 2 and "size limit" in err, "manifest over 8 MiB: exit 2", err)
    rc, _, err = run("validate", write(d, "syntax.yaml", "apiVersion: v1\nkind: ConfigMap\n"
                                       "metadata:\n  name: [x\n"))
    check(rc == 2 and "line 5" in err, "YAML syntax error: exit 2 with the line", err)


def test_manifests(d):
    rc, doc, _ = run_json(EXAMPLE)
    names = [r["file"] for r in doc["results"]]
    want = [f"{EXAMPLE}:seccomp-operator/demo-profile:{k}"
            for k in ("audit.json", "violation.json", "fine-grained.json")]
    check(rc == 0 and names == want, "example manifest: three results", repr(names))
    check(all(r["valid"] for r in doc["results"]), "example manifest: all valid")
    # The same bytes as plain files (deploy/examples/profiles/, which the e2e suite keeps
    # byte-identical to the ConfigMap's keys) give the same verdicts.
    for r, f in zip(doc["results"], ("audit", "violation", "fine-grained")):
        _, plain, _ = run_json(os.path.join(ROOT, f"deploy/examples/profiles/{f}.json"))
        p = plain["results"][0] if plain["results"] else {}
        check({k: v for k, v in r.items() if k != "file"} ==
              {k: v for k, v in p.items() if k != "file"}, f"example {f}: same verdict as the file")
    rc, out, _ = run("validate", EXAMPLE)
    check(rc == 0 and out.count(f"{EXAMPLE}:seccomp-operator/demo-profile:") >= 3,
          "example manifest text", out)

    # Several documents: a Deployment, an unannotated ConfigMap, one without namespace with a
    # broken profile, one with binaryData, and a List.
    multi = "\n---\n".join([
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
        configmap("plain", "ns", {"k": GOOD}, ann='"false"'),
        configmap("mixed", None, {"good.json": GOOD, "bad.json": BROKEN[0][1]}),
        configmap("bin", "ns2", None, binary={"b.json": GOOD}),
        "apiVersion: v1\nkind: List\nitems:\n- " +
        configmap("inlist", "ns3", {"l.json": GOOD}).replace("\n", "\n  ").rstrip() + "\n",
    ])
    p = write(d, "multi.yaml", multi)
    rc, doc, _ = run_json(p)
    got = {r["file"]: r["valid"] for r in doc["results"]}
    check(got == {f"{p}:default/mixed:good.json": True, f"{p}:default/mixed:bad.json": False,
                  f"{p}:ns2/bin:b.json": True, f"{p}:ns3/inlist:l.json": True},
          "multi-document manifest: results", repr(got))
    check(rc == 1, "multi-document manifest with a broken profile: exit 1")
    bad = [r for r in doc["results"] if r["file"].endswith("bad.json")]
    check(bad and any(e["path"] == "syscalls[1].action" for e in bad[0]["errors"]),
          "manifest: path of the broken key")
    rc, out, _ = run("validate", p)
    check(f"{p}:default/mixed:bad.json: error: syscalls[1].action" in out,
          "manifest text: error line names the key and path", out)

    # JSON manifest, ConfigMapList as the API returns it.
    cml = {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": [
        {"metadata": {"name": "j", "namespace": "jn", "annotations": {ANN: "true"}},
         "data": {"p.json": GOOD}}]}
    p = write(d, "list.json", json.dumps(cml, indent=2))
    rc, doc, _ = run_json(p)
    check(rc == 0 and [r["file"] for r in doc["results"]] == [f"{p}:jn/j:p.json"],
          "JSON ConfigMapList", repr(doc))

    # Nothing annotated: a warning, exit 0.
    p = write(d, "none.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n")
    rc, out, err = run("validate", p)
    check(rc == 0, "no annotated ConfigMap: exit 0", f"rc={rc} {err}")
    check(f"{p}: warning: no ConfigMap annotated" in out, "no annotated ConfigMap: warning", out)
    rc, doc, _ = run_json(p)
    check(rc == 0 and len(doc["results"]) == 1 and doc["results"][0]["valid"] and
          doc["results"][0]["warnings"], "no annotated ConfigMap json: one valid result, warned")

    # "True" is not "true": skipped with a warning; a YAML boolean is refused.
    p = write(d, "capital.yaml", configmap("c", "ns", {"k": BROKEN[0][1]}, ann='"True"'))
    rc, out, _ = run("validate", p)
    check(rc == 0 and "not exactly" in out, "annotation True: skipped, warned", out)
    p = write(d, "bool.yaml", configmap("c", "ns", {"k": GOOD}, ann="true"))
    rc, out, _ = run("validate", p)
    check(rc == 1 and "YAML boolean" in out, "annotation unquoted true: exit 1", out)

    # A key the daemon would not write, an unquoted JSON value, bad base64.
    p = write(d, "keys.yaml", configmap("c", "ns", {"..bad": GOOD}))
    rc, out, _ = run("validate", p)
    check(rc == 1 and f"{p}:ns/c:..bad: error:" in out, "invalid key: exit 1", out)
    p = write(d, "flow.yaml", configmap("c", "ns", None) + "data:\n  p.json: " + GOOD + "\n")
    rc, out, _ = run("validate", p)
    check(rc == 1 and "block scalar" in out, "profile as a YAML mapping: exit 1", out)
    p = write(d, "b64.yaml", configmap("c", "ns", None) + "binaryData:\n  p.json: '!!'\n")
    rc, out, _ = run("validate", p)
    check(rc == 1 and "base64" in out, "bad base64: exit 1", out)
    # Aliases are not expanded (billion laughs costs nothing).
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for x, y in zip("bcdefghi", "abcdefgh"):
        laughs += f"{x}: &{x} [" + ",".join([f"*{y}"] * 9) + "]\n"
    p = write(d, "laughs.yaml", laughs + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
              f"  name: l\n  annotations:\n    {ANN}: \"true\"\ndata:\n  k: *i\n")
    rc, out, _ = run("validate", p)
    check(rc == 1 and "alias" in out, "aliases: refused where a profile is read", out)


def test_escaping(d):
    name = b"odd\x01\"\\\xff\xc3\x28.json"
    path = os.path.join(d.encode(), name)
    with open(path, "wb") as f:
        f.write(GOOD.encode())
    p = subprocess.run([BIN, "validate", "--format", "json", path], capture_output=True,
                       timeout=60, check=False)
    try:
        doc = json.loads(p.stdout.decode("utf-8"))
        got = doc["results"][0]["file"]
    except (ValueError, UnicodeDecodeError, KeyError, IndexError) as e:
        check(False, "JSON escaping: output is UTF-8 JSON", f"{e} {p.stdout[:300]!r}")
        return
    check(got == d + "/odd\x01\"\\\ufffd\ufffd(.json", "JSON escaping: control, quote, bad UTF-8",
          repr(got))
    p = subprocess.run([BIN, "validate", path], capture_output=True, timeout=60, check=False)
    check(b'odd\\x01"\\\\xff\\xc3(.json: valid (' in p.stdout,
          "text escaping: control and non-UTF-8 bytes as \\xNN", repr(p.stdout))
    check(b"\x01" not in p.stdout and b"\xff" not in p.stdout, "text: no raw control bytes")


def test_cli():
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    for args in (("version",), ("--version",)):
        rc, out, _ = run(*args)
        check(rc == 0 and out.startswith(f"seccomp-syncd {version}\n") and "validator " in out,
              f"{args}: versions", out)
    for args in (("--help",), ("-h",), ("help",)):
        rc, out, _ = run(*args)
        check(rc == 0 and "validate" in out and "run" in out and "usage:" in out, f"{args}", out)
    for args in (("validate", "--help"), ("help", "validate"), ("validate", "-h"),
                 ("validate", "x.json", "--help")):
        rc, out, _ = run(*args)
        check(rc == 0 and "usage: seccomp-syncd validate" in out and "--arch" in out and
              "exit status" in out, f"{args}: validate help", out)
    for args in (("version", "--help"), ("help", "version")):
        rc, out, _ = run(*args)
        check(rc == 0 and "usage: seccomp-syncd version" in out, f"{args}: version help", out)
    for args in (("run", "--help"), ("help", "run")):
        rc, out, err = run(*args)
        check(rc == 0 and out.strip() != "", f"{args}: run help", out + err)
    for args in ((), ("frobnicate",), ("help", "frobnicate"), ("validate",),
                 ("validate", "--bogus", "x.json"), ("validate", "--format", "xml", "x.json"),
                 ("validate", "--format"), ("version", "extra")):
        rc, out, err = run(*args)
        check(rc == 2 and err.strip() != "", f"{args}: usage error exit 2", f"rc={rc} {err}")
    # "--" ends the options: a file named "--help" is a file.
    with tempfile.TemporaryDirectory() as d:
        write(d, "--help", GOOD)
        rc, out, _ = run("validate", "--", "--help", cwd=d)
        check(rc == 0 and out.startswith("--help: valid ("), "-- then a file named --help", out)


def main():
    if not os.access(BIN, os.X_OK):
        print(f"test_validate_cli: {BIN} is missing", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="validate-cli-") as d:
        test_shared_profiles()
        test_broken(d)
        test_stdin()
        test_arch(d)
        test_io_errors(d)
        test_manifests(d)
        test_escaping(d)
        test_cli()
    for f in failures:
        print(f"FAIL: {f}")
    print(f"test_validate_cli: {checks - len(failures)}/{checks} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
