"""Real container runtimes for the end-to-end test and the demo.

A profile file is worth only what a runtime does with it, so these helpers start real
containers the way a node does (see /work/shared/docs/RUNTIMES.md, where every command
here was measured):

  Node(tmpdir)               a temporary "node": busybox rootfs, a private containerd, podman
  node.ctr(profile, argv)    containerd + runc: `ctr run --seccomp-profile`, the code path of a
                             containerd node's Localhost profile (containerd's plain OCI parser)
  node.podman(profile, argv) podman + runc: the Docker-dialect parser that CRI-O uses
  node.close()               kills what is left (tasks, shims, conmon), stops containerd,
                             unmounts, removes cgroups and the directory
  KernelLog()                a window on the kernel log (dmesg -w) to find SCMP_ACT_LOG records,
                             with the printk rate limit lifted and restored
  Pod(manifest)              a pod manifest's Localhost profile and command, resolved the way
                             the kubelet does: <kubelet-dir>/seccomp/<localhostProfile>

Standard library (plus python3-yaml for pod manifests); root is needed.  As a program it runs
one container, for the demo:

  runtimes.py [--runtime containerd|podman] --profile FILE -- /bin/sh -c '...'
  runtimes.py [--runtime containerd|podman] --pod POD.yaml --kubelet-dir DIR

prints the container's output and exits with its status (125 when it could not start).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

APPLETS = ("sh", "mkdir", "grep", "cat", "true", "ls", "touch", "sleep", "id", "uname",
           "realpath", "echo")
RUN_TIMEOUT = 30  # seconds for one container, start to exit
RATELIMIT = "/proc/sys/kernel/printk_ratelimit"


class RuntimeMissing(Exception):
    """A runtime binary is not installed or does not work on this machine."""


class Result:
    """What one container run gave: exit status and output (stdout and stderr together)."""

    def __init__(self, runtime, argv, rc, out, seconds):
        self.runtime = runtime
        self.argv = argv
        self.rc = rc
        self.out = out
        self.seconds = seconds

    @property
    def seccomp_mode(self):
        """The Seccomp: line of /proc/self/status if the command printed it, else None."""
        for line in self.out.splitlines():
            if line.startswith("Seccomp:"):
                return line.split(":", 1)[1].strip()
        return None

    def __repr__(self):
        return "%s exit %d after %.2fs:\n%s" % (self.runtime, self.rc, self.seconds,
                                                self.out.rstrip()[-1500:])


def need(binary):
    path = shutil.which(binary) or next(
        (p for p in ("/usr/sbin/" + binary, "/usr/bin/" + binary, "/sbin/" + binary)
         if os.access(p, os.X_OK)), None)
    if not path:
        raise RuntimeMissing("%s is not installed (scripts/install-deps runc containerd podman "
                             "busybox-static)" % binary)
    return path


def make_rootfs(d):
    """A busybox root filesystem (no image, no registry) in @d."""
    busybox = need("busybox")
    for sub in ("bin", "proc", "dev", "sys", "tmp", "etc", "run"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    shutil.copy2(busybox, os.path.join(d, "bin", "busybox"))
    for a in APPLETS:
        link = os.path.join(d, "bin", a)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    os.chmod(os.path.join(d, "tmp"), 0o1777)
    with open(os.path.join(d, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/:/bin/sh\n")
    with open(os.path.join(d, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")


def _pids_mentioning(text):
    """Processes whose command line contains @text (our private socket or directory)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            out.append(int(p))
    return out


def _kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _mounts_under(d):
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp == d or mp.startswith(d + "/"):
                    out.append(mp)
    except OSError:
        pass
    return out


def _rmdir_tree(top):
    """rmdir a cgroup directory and its children, deepest first (cgroupfs refuses rm -r)."""
    if not os.path.isdir(top):
        return
    for root, dirs, _ in os.walk(top, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass
    try:
        os.rmdir(top)
    except OSError:
        pass


def _cgroup_dirs(name):
    """/sys/fs/cgroup/<controller>/<name> on cgroup v1 (hybrid), /sys/fs/cgroup/<name> on v2."""
    base = "/sys/fs/cgroup"
    out = [os.path.join(base, name)]
    try:
        for c in os.listdir(base):
            p = os.path.join(base, c, name)
            if os.path.isdir(os.path.join(base, c)) and not os.path.islink(os.path.join(base, c)):
                out.append(p)
    except OSError:
        pass
    return out


class Pod:
    """A pod manifest (one Pod): where its Localhost profile is, what its container runs."""

    def __init__(self, path):
        import yaml  # python3-yaml, from scripts/install-deps
        self.path = path
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        if len(docs) != 1 or docs[0].get("kind") != "Pod":
            raise ValueError("%s: want exactly one Pod" % path)
        pod = docs[0]
        self.name = pod["metadata"]["name"]
        c = pod["spec"]["containers"][0]
        # A container's own seccompProfile wins over the pod's, as in the kubelet.
        sp = (c.get("securityContext") or {}).get("seccompProfile") or \
            (pod["spec"].get("securityContext") or {}).get("seccompProfile")
        if not sp or sp.get("type") != "Localhost" or not sp.get("localhostProfile"):
            raise ValueError("%s: no Localhost seccompProfile" % path)
        self.localhost_profile = sp["localhostProfile"]
        self.argv = list(c.get("command") or []) + list(c.get("args") or [])
        if not self.argv:
            raise ValueError("%s: the container has no command" % path)

    def profile_path(self, kubelet_dir):
        """What the kubelet hands the runtime: <kubelet-dir>/seccomp/<localhostProfile>."""
        return os.path.join(kubelet_dir, "seccomp", self.localhost_profile)


class Node:
    """A throwaway node in @tmpdir: a busybox rootfs, a private containerd and podman state.

    Nothing outside @tmpdir is touched except cgroups named after the run (removed by
    close()).  containerd is started lazily by the first ctr() call."""

    def __init__(self, tmpdir, tag=None):
        self.dir = os.path.abspath(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.tag = tag or "seccomp-syncd-e2e-%d" % os.getpid()
        self.rootfs = os.path.join(self.dir, "rootfs")
        make_rootfs(self.rootfs)
        self.ctd_dir = os.path.join(self.dir, "containerd")
        self.sock = os.path.join(self.ctd_dir, "sock")
        self.ctd = None
        self.ctd_log = None
        self.pod_dir = os.path.join(self.dir, "podman")
        self.n = 0
        self.runc = need("runc")

    # ---- containerd ----
    def _start_containerd(self):
        if self.ctd is not None:
            return
        containerd = need("containerd")
        need("ctr")
        os.makedirs(self.ctd_dir, exist_ok=True)
        conf = os.path.join(self.ctd_dir, "config.toml")
        with open(conf, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                    % (self.ctd_dir, self.ctd_dir, self.sock, self.sock))
        self.ctd_log = os.path.join(self.ctd_dir, "containerd.log")
        log = open(self.ctd_log, "ab")
        self.ctd = subprocess.Popen([containerd, "--config", conf], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 20
        while True:
            if self.ctd.poll() is not None:
                raise RuntimeMissing("containerd exited with %d:\n%s" % (
                    self.ctd.returncode, self._tail(self.ctd_log)))
            if os.path.exists(self.sock):
                r = subprocess.run(["ctr", "-a", self.sock, "version"], capture_output=True,
                                   timeout=10)
                if r.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeMissing("containerd not ready after 20 s:\n" +
                                     self._tail(self.ctd_log))
            time.sleep(0.05)

    def _ctr(self, *args, timeout=20):
        return subprocess.run(["ctr", "-a", self.sock, "-n", self.tag] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def _ctr_remove(self, cid):
        """Kill and delete one container whatever state it is in."""
        self._ctr("task", "kill", "-s", "SIGKILL", cid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self._ctr("task", "rm", "-f", cid).returncode != 0:
                break
            time.sleep(0.1)
        self._ctr("container", "rm", cid)

    def ctr(self, profile, argv, timeout=RUN_TIMEOUT):
        """Run @argv in a container under seccomp profile file @profile with containerd.

        The flags are a kubelet's defaults: read-only rootfs with a tmpfs /tmp (the pod
        manifests ask for that), no_new_privs off as Kubernetes leaves it."""
        self._start_containerd()
        self.n += 1
        cid = "c%d" % self.n
        cmd = ["ctr", "-a", self.sock, "-n", self.tag, "run", "--rm", "--rootfs", "--read-only",
               "--allow-new-privs", "--mount",
               "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev",
               "--seccomp", "--seccomp-profile", profile, self.rootfs, cid] + list(argv)
        return self._run("containerd", cmd, timeout, lambda: self._ctr_remove(cid))

    # ---- podman ----
    def _podman_base(self):
        return [need("podman"), "--root", os.path.join(self.pod_dir, "root"),
                "--runroot", os.path.join(self.pod_dir, "run"),
                "--tmpdir", os.path.join(self.pod_dir, "tmp"),
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "none", "--runtime", self.runc]

    def podman(self, profile, argv, timeout=RUN_TIMEOUT):
        """Run @argv in a container under seccomp profile file @profile with podman (the
        containers/common parser that CRI-O uses), with the same read-only rootfs."""
        self.n += 1
        name = "%s-p%d" % (self.tag, self.n)
        cmd = self._podman_base() + [
            "run", "--rm", "--name", name, "--read-only", "--network=none",
            "--cgroup-parent", "/" + self.tag,
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
            "--security-opt", "seccomp=" + profile, "--rootfs", self.rootfs] + list(argv)

        def kill():
            subprocess.run(self._podman_base() + ["rm", "--force", "--time", "0", name],
                           capture_output=True, timeout=30)
        return self._run("podman", cmd, timeout, kill)

    # ---- common ----
    def _run(self, runtime, cmd, timeout, on_timeout):
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True, errors="replace")
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            on_timeout()
            p.kill()
            out, _ = p.communicate()
            out += "\n[e2e: killed after %d s]" % timeout
        return Result(runtime, cmd[cmd.index(self.rootfs) + 1:], p.returncode, out,
                      time.monotonic() - t0)

    @staticmethod
    def _tail(path, n=3000):
        try:
            with open(path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def close(self):
        """Remove everything this node started or made, even after a failure: containers,
        shims and conmon processes, containerd, mounts, cgroups, the directory."""
        if self.ctd is not None and self.ctd.poll() is None:
            try:
                r = self._ctr("container", "ls", "-q")
                for cid in r.stdout.split():
                    self._ctr_remove(cid)
            except (OSError, subprocess.SubprocessError):
                pass
        if os.path.isdir(os.path.join(self.pod_dir, "root")):
            try:
                subprocess.run(self._podman_base() + ["rm", "--all", "--force", "--time", "0"],
                               capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError):
                pass
        if self.ctd is not None:
            if self.ctd.poll() is None:
                self.ctd.terminate()
                try:
                    self.ctd.wait(10)
                except subprocess.TimeoutExpired:
                    self.ctd.kill()
                    self.ctd.wait()
            self.ctd = None
        # Shims outlive containerd by design, conmon outlives podman: ours name our directory.
        for _ in range(3):
            pids = _pids_mentioning(self.dir)
            if not pids:
                break
            _kill_pids(pids)
            time.sleep(0.2)
        for mp in sorted(_mounts_under(self.dir), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        for d in _cgroup_dirs(self.tag):
            _rmdir_tree(d)
        shutil.rmtree(self.dir, ignore_errors=True)


class KernelLog:
    """A window on the kernel log: `dmesg -w` from before a run, from a marker line on.

    SCMP_ACT_LOG records (`audit: type=1326 ...`) go through printk, which the kernel
    rate-limits (kernel.printk_ratelimit, 10 messages per 5 s): the limit is lifted while
    the window is open and restored by close(), whatever happens."""

    def __init__(self, path):
        self.path = path
        self.saved = None
        self.proc = None
        self.nonce = "seccomp-syncd-e2e-%d-%d" % (os.getpid(), time.monotonic_ns())

    def open(self):
        with open(RATELIMIT) as f:
            self.saved = f.read().strip()
        with open(RATELIMIT, "w") as f:
            f.write("0\n")
        out = open(self.path, "wb")
        self.proc = subprocess.Popen(["dmesg", "-w"], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        out.close()
        self.mark("begin")
        self._wait_for(self.nonce + " begin", 10)

    def mark(self, what):
        with open("/dev/kmsg", "w") as f:
            f.write("%s %s\n" % (self.nonce, what))

    def _read(self):
        with open(self.path, errors="replace") as f:
            return f.read()

    def _wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self._read():
                return True
            time.sleep(0.05)
        return False

    def lines_since(self, what):
        """Kernel log lines after the marker @what."""
        text = self._read()
        i = text.find("%s %s\n" % (self.nonce, what))
        if i < 0:
            return []
        return text[i:].splitlines()[1:]

    def wait_records(self, since, match, timeout=10):
        """Lines after marker @since for which @match(line) is true, waiting up to @timeout
        seconds for at least one (kauditd prints them asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [ln for ln in self.lines_since(since) if match(ln)]
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.saved is not None:
            with open(RATELIMIT, "w") as f:
                f.write(self.saved + "\n")
            self.saved = None


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Run one busybox container under a seccomp "
                                 "profile file, as a node's runtime would.")
    ap.add_argument("--runtime", choices=("containerd", "podman"), default="containerd")
    ap.add_argument("--profile", help="the seccomp profile file")
    ap.add_argument("--pod", help="a pod manifest: its localhostProfile and its command")
    ap.add_argument("--kubelet-dir", default="/var/lib/kubelet",
                    help="where --pod's localhostProfile is resolved (<DIR>/seccomp/...)")
    ap.add_argument("cmd", nargs="*")
    a = ap.parse_args(argv)
    if a.pod:
        if a.profile or a.cmd:
            ap.error("--pod takes neither --profile nor a command")
        pod = Pod(a.pod)
        a.profile, a.cmd = pod.profile_path(a.kubelet_dir), pod.argv
    elif not a.profile or not a.cmd:
        ap.error("give --profile FILE and a command, or --pod")
    if os.geteuid() != 0:
        print("runtimes.py: containers need root", file=sys.stderr)
        return 125
    d = tempfile.mkdtemp(prefix="seccomp-syncd-run-")
    node = None
    try:
        node = Node(d)
        run = node.ctr if a.runtime == "containerd" else node.podman
        r = run(os.path.abspath(a.profile), a.cmd)
        sys.stdout.write(r.out)
        return r.rc
    except RuntimeMissing as e:
        print("runtimes.py: cannot run containers here: %s" % e, file=sys.stderr)
        return 125
    finally:
        if node is not None:
            node.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main(sys.argv[1:]))
