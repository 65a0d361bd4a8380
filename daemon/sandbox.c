/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

/*
 * How a syscall on the list is allowed.  Most are allowed outright; a few are
 * allowed only with arguments the daemon actually uses, so that the
 * dangerous uses of an otherwise needed call stay closed.
 */
enum allow_how {
	ALLOW,		 /* any arguments */
	ALLOW_THREAD,	 /* clone: only threads (CLONE_THREAD), never a new process */
	ALLOW_SOCKET,	 /* socket: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK */
	ALLOW_PRCTL,	 /* prctl: thread names and read-only queries */
	ALLOW_SELF,	 /* kill/tgkill/tkill-like: first argument is our own pid */
	ALLOW_GETLIMIT,	 /* prlimit64: read only (new limit NULL) */
	ALLOW_IOCTL,	 /* ioctl: FIONREAD, FIONBIO, TCGETS */
	ALLOW_SECCOMP,	 /* seccomp: libseccomp's feature probes, never a new filter */
	ENOSYS_FALLBACK, /* clone3: ENOSYS, so glibc falls back to clone, whose flags we can see */
};

struct allow {
	const char *name; /* resolved for the native arch; a name it lacks is skipped */
	enum allow_how how;
};

/*
 * What the daemon needs after start-up, by group.  By then the API client
 * configuration and the kubelet directory are open, the HTTP endpoint's
 * thread is running and capabilities are gone.  Names that do not exist on an
 * architecture (open, stat, mmap2, ...) are skipped there.
 */
static const struct allow base_list[] = {
	/* memory: malloc, thread stacks and guard pages, libseccomp's and OpenSSL's buffers */
	{ "brk", ALLOW },
	{ "mmap", ALLOW },
	{ "mmap2", ALLOW },
	{ "munmap", ALLOW },
	{ "mremap", ALLOW },
	{ "mprotect", ALLOW },
	{ "madvise", ALLOW },

	/*
	 * threads: libmicrohttpd's thread exists before the sandbox (TSYNC
	 * filters it too), but curl's threaded resolver starts one per lookup
	 * afterwards, so clone stays open for threads only (CLONE_THREAD), never
	 * for a new process; clone3 keeps its flags in memory, where a filter
	 * cannot look, so it answers ENOSYS and glibc falls back to clone
	 */
	{ "clone", ALLOW_THREAD },
	{ "clone3", ENOSYS_FALLBACK },
	{ "futex", ALLOW },
	{ "futex_time64", ALLOW },
	{ "set_robust_list", ALLOW },
	{ "rseq", ALLOW },
	{ "sched_yield", ALLOW },
	{ "sched_getaffinity", ALLOW },
	{ "exit", ALLOW },
	{ "exit_group", ALLOW },
	{ "getpid", ALLOW },
	{ "gettid", ALLOW },
	{ "prctl", ALLOW_PRCTL },

	/* signals: SIGTERM/SIGINT handling, raise() and pthread_kill() on ourselves only */
	{ "rt_sigaction", ALLOW },
	{ "rt_sigprocmask", ALLOW },
	{ "rt_sigreturn", ALLOW },
	{ "rt_sigtimedwait", ALLOW },
	{ "rt_sigtimedwait_time64", ALLOW },
	{ "signalfd4", ALLOW },
	{ "restart_syscall", ALLOW },
	{ "kill", ALLOW_SELF },
	{ "tgkill", ALLOW_SELF },

	/* time: timeouts, backoff, log timestamps, metrics (usually the vDSO, not a syscall) */
	{ "clock_gettime", ALLOW },
	{ "clock_gettime64", ALLOW },
	{ "clock_getres", ALLOW },
	{ "gettimeofday", ALLOW },
	{ "time", ALLOW },
	{ "nanosleep", ALLOW },
	{ "clock_nanosleep", ALLOW },
	{ "clock_nanosleep_time64", ALLOW },
	{ "timerfd_create", ALLOW },
	{ "timerfd_settime", ALLOW },
	{ "timerfd_gettime", ALLOW },

	/* event loop: curl multi, its wakeup pipe/eventfd/socketpair, libmicrohttpd's epoll */
	{ "poll", ALLOW },
	{ "ppoll", ALLOW },
	{ "ppoll_time64", ALLOW },
	{ "select", ALLOW },
	{ "pselect6", ALLOW },
	{ "pselect6_time64", ALLOW },
	{ "epoll_create", ALLOW },
	{ "epoll_create1", ALLOW },
	{ "epoll_ctl", ALLOW },
	{ "epoll_wait", ALLOW },
	{ "epoll_pwait", ALLOW },
	{ "epoll_pwait2", ALLOW },
	{ "eventfd", ALLOW },
	{ "eventfd2", ALLOW },
	{ "pipe", ALLOW },
	{ "pipe2", ALLOW },

	/*
	 * network: HTTPS to the API server, DNS to the resolvers (UDP and TCP),
	 * getaddrinfo's netlink query for AI_ADDRCONFIG, nscd's unix socket, and
	 * accepting scrapes and probes on the endpoint's socket
	 */
	{ "socket", ALLOW_SOCKET },
	{ "socketpair", ALLOW },
	{ "connect", ALLOW },
	{ "bind", ALLOW },
	{ "accept", ALLOW },
	{ "accept4", ALLOW },
	{ "shutdown", ALLOW },
	{ "getsockname", ALLOW },
	{ "getpeername", ALLOW },
	{ "getsockopt", ALLOW },
	{ "setsockopt", ALLOW },
	{ "sendto", ALLOW },
	{ "sendmsg", ALLOW },
	{ "sendmmsg", ALLOW },
	{ "recvfrom", ALLOW },
	{ "recvmsg", ALLOW },
	{ "recvmmsg", ALLOW },
	{ "ioctl", ALLOW_IOCTL },

	/*
	 * files: the store (temp file, write, fsync, rename, fsync the directory,
	 * sweep, remove, flock on operator/), /etc/resolv.conf, /etc/hosts,
	 * nsswitch.conf and the NSS modules it loads, the CA bundle, stderr
	 */
	{ "openat", ALLOW },
	{ "openat2", ALLOW }, /* the store: RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS below operator/ */
	{ "open", ALLOW },
	{ "close", ALLOW },
	{ "read", ALLOW },
	{ "readv", ALLOW },
	{ "pread64", ALLOW },
	{ "write", ALLOW },
	{ "writev", ALLOW },
	{ "pwrite64", ALLOW },
	{ "lseek", ALLOW },
	{ "_llseek", ALLOW },
	{ "fcntl", ALLOW },
	{ "fcntl64", ALLOW },
	{ "dup", ALLOW },
	{ "dup2", ALLOW },
	{ "dup3", ALLOW },
	{ "fstat", ALLOW },
	{ "fstat64", ALLOW },
	{ "stat", ALLOW },
	{ "stat64", ALLOW },
	{ "lstat", ALLOW },
	{ "lstat64", ALLOW },
	{ "newfstatat", ALLOW },
	{ "fstatat64", ALLOW },
	{ "statx", ALLOW },
	{ "access", ALLOW },
	{ "faccessat", ALLOW },
	{ "faccessat2", ALLOW },
	{ "getdents64", ALLOW },
	{ "mkdirat", ALLOW },
	{ "mkdir", ALLOW },
	{ "renameat", ALLOW },
	{ "renameat2", ALLOW },
	{ "rename", ALLOW },
	{ "unlinkat", ALLOW },
	{ "unlink", ALLOW },
	{ "fsync", ALLOW },
	{ "fdatasync", ALLOW },
	{ "syncfs", ALLOW }, /* the store after a failed directory fsync */
	{ "ftruncate", ALLOW },
	{ "flock", ALLOW },
	{ "fchmod", ALLOW },
	{ "fchmodat", ALLOW },
	{ "umask", ALLOW },

	/* the validator: libseccomp exports the compiled BPF through a memfd and probes features */
	{ "memfd_create", ALLOW },
	{ "seccomp", ALLOW_SECCOMP },

	/* small read-only queries made by glibc, OpenSSL and curl */
	{ "getrandom", ALLOW },
	{ "uname", ALLOW },
	{ "sysinfo", ALLOW },
	{ "getrlimit", ALLOW },
	{ "prlimit64", ALLOW_GETLIMIT },
	{ "getuid", ALLOW },
	{ "geteuid", ALLOW },
	{ "getgid", ALLOW },
	{ "getegid", ALLOW },
};

/*
 * Sanitizer and valgrind builds only (extended=true): ASan/LSan/UBSan's
 * runtime (alternate signal stacks, reading /proc/self/exe, LeakSanitizer's
 * stop-the-world tracer, which clones without CLONE_THREAD and ptraces the
 * threads) and valgrind's core, which runs its own syscalls under our filter.
 * An entry here replaces a restricted rule of the base list with an
 * unrestricted one.
 */
static const struct allow extended_list[] = {
	{ "sigaltstack", ALLOW },
	{ "readlink", ALLOW },
	{ "readlinkat", ALLOW },
	{ "ioctl", ALLOW },
	{ "personality", ALLOW },
	{ "process_vm_readv", ALLOW },
	{ "prctl", ALLOW },
	{ "clone", ALLOW },
	{ "ptrace", ALLOW },
	{ "wait4", ALLOW },
	{ "waitid", ALLOW },
	{ "kill", ALLOW },
	{ "tgkill", ALLOW },
	{ "tkill", ALLOW },
	{ "getppid", ALLOW },
	{ "mincore", ALLOW },
	{ "getrusage", ALLOW },
	{ "getcwd", ALLOW },
	{ "arch_prctl", ALLOW },
	{ "rt_sigqueueinfo", ALLOW },
	{ "rt_tgsigqueueinfo", ALLOW },
	{ "sched_setaffinity", ALLOW },
	{ "set_tid_address", ALLOW },
	{ "times", ALLOW },
};

/* On s390 the kernel's clone takes the stack first and the flags second. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG SCMP_A1_64
#else
#define CLONE_FLAGS_ARG SCMP_A0_64
#endif

static bool in_list(const struct allow *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return true;
	return false;
}

/*
 * A name no architecture knows is a typo in the tables above; it must not be
 * skipped silently as "not on this architecture".
 */
static bool known_anywhere(const char *name)
{
	static const uint32_t arches[] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86,	SCMP_ARCH_AARCH64,
					   SCMP_ARCH_ARM,    SCMP_ARCH_PPC64LE, SCMP_ARCH_S390X };
	size_t i;

	for (i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		if (seccomp_syscall_resolve_name_arch(arches[i], name) != __NR_SCMP_ERROR)
			return true;
	return false;
}

static int add_rule(scmp_filter_ctx ctx, const struct allow *a)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
	static const int prctl_ops[] = { PR_SET_NAME, PR_GET_NAME, PR_GET_SECCOMP,
					 PR_GET_NO_NEW_PRIVS, PR_GET_DUMPABLE };
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	static const unsigned seccomp_ops[] = { SECCOMP_GET_ACTION_AVAIL, SECCOMP_GET_NOTIF_SIZES };
	int nr = seccomp_syscall_resolve_name(a->name);
	int r = 0;
	size_t i;

	if (nr == __NR_SCMP_ERROR)
		return known_anywhere(a->name) ? 0 : -ENOENT;
	switch (a->how) {
	case ALLOW:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		break;
	case ALLOW_THREAD:
		r = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, nr, 1,
			CLONE_FLAGS_ARG(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
		break;
	case ALLOW_SOCKET:
		for (i = 0; i < sizeof(families) / sizeof(families[0]) && r == 0; i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)families[i], 0));
		break;
	case ALLOW_PRCTL:
		for (i = 0; i < sizeof(prctl_ops) / sizeof(prctl_ops[0]) && r == 0; i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)prctl_ops[i], 0));
		break;
	case ALLOW_SELF:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid(), 0));
		break;
	case ALLOW_GETLIMIT:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A2_64(SCMP_CMP_EQ, 0, 0));
		break;
	case ALLOW_IOCTL:
		for (i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]) && r == 0; i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)ioctls[i], 0));
		break;
	case ALLOW_SECCOMP:
		for (i = 0; i < sizeof(seccomp_ops) / sizeof(seccomp_ops[0]) && r == 0; i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A0_32(SCMP_CMP_EQ, seccomp_ops[i], 0));
		break;
	case ENOSYS_FALLBACK:
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		break;
	}
	return r;
}

/*
 * Add every rule of @list; with @skip_extended, leave out the syscalls that the
 * extended list adds again without restriction.
 */
static int add_list(scmp_filter_ctx ctx, const struct allow *list, size_t n, bool skip_extended,
		    struct diag *d)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (skip_extended &&
		    in_list(extended_list, sizeof(extended_list) / sizeof(extended_list[0]),
			    list[i].name))
			continue;
		r = add_rule(ctx, &list[i]);
		if (r == -ENOENT)
			return diag_set(d, -EINVAL, "unknown syscall '%s' in the allow-list",
					list[i].name);
		if (r < 0)
			return diag_set(d, r, "cannot add '%s' to the seccomp filter: %s",
					list[i].name, strerror(-r));
	}
	return 0;
}

/*
 * Default action ERRNO(EPERM), not KILL: a syscall the list missed (a new
 * glibc or libcurl code path) becomes an EPERM error that the daemon reports
 * where it handles errors, never a SIGSYS crash of a node agent.  A syscall
 * made with another architecture's calling convention (x32, i386 int 0x80)
 * is never made by this program, so it kills the process.  TSYNC applies the
 * filter to every thread, including libmicrohttpd's, which started earlier.
 */
static int install_filter(bool extended, struct diag *d)
{
	scmp_filter_ctx ctx;
	int r;

	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return diag_set(d, -ENOMEM, "cannot create the seccomp filter");
	/* KILL_PROCESS needs API level 3 (Linux 4.14); before it, or under valgrind, KILL */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			     seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL);
	if (r == 0) {
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
		/*
		 * valgrind does not emulate seccomp(2), so libseccomp can only
		 * load through prctl, which filters the calling thread and the
		 * threads it starts later: accepted for a valgrind run only.
		 */
		if ((r == -EINVAL || r == -EOPNOTSUPP) && extended)
			r = 0;
	}
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r < 0) {
		diag_set(d, r, "cannot configure the seccomp filter: %s", strerror(-r));
		goto out;
	}
	r = add_list(ctx, base_list, sizeof(base_list) / sizeof(base_list[0]), extended, d);
	if (r == 0 && extended)
		r = add_list(ctx, extended_list, sizeof(extended_list) / sizeof(extended_list[0]),
			     false, d);
	if (r < 0)
		goto out;
	r = seccomp_load(ctx);
	if (r < 0)
		diag_set(d, r, "cannot load the seccomp filter: %s", strerror(-r));
out:
	seccomp_release(ctx);
	return r;
}

static int read_last_cap(unsigned long *out, struct diag *d)
{
	static const char path[] = "/proc/sys/kernel/cap_last_cap";
	char buf[32], *end;
	ssize_t n;
	unsigned long v;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return diag_set(d, r, "cannot read '%s': %s", path, strerror(-r));
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v > 255)
		return diag_set(d, -EINVAL, "cannot parse '%s': '%.*s'", path, (int)n, buf);
	*out = v;
	return 0;
}

/*
 * The bounding set first (that needs CAP_SETPCAP, which capset then
 * removes), then the ambient set, then effective, permitted and inheritable
 * in one capset: afterwards neither this process nor anything it could exec
 * holds a capability.  A capability already out of the bounding set is
 * skipped: dropping it again would need CAP_SETPCAP for nothing.
 */
static int drop_caps(struct diag *d)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	unsigned long last = 0, cap;
	int r;

	r = read_last_cap(&last, d);
	if (r < 0)
		return r;
	for (cap = 0; cap <= last; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return diag_set(d, -errno,
					"cannot drop capability %lu from the bounding set: %s", cap,
					strerror(errno));
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return diag_set(d, -errno, "cannot clear the ambient capabilities: %s",
				strerror(errno));
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return diag_set(d, -errno, "cannot clear the capabilities: %s", strerror(errno));
	return 0;
}

int sandbox_enter(const struct sandbox_opts *opts, struct diag *d)
{
	int r;

	/* no exec can give privileges back, and an unprivileged seccomp filter is allowed */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return diag_set(d, -errno, "cannot set no_new_privs: %s", strerror(errno));
	if (opts->drop_caps) {
		r = drop_caps(d);
		if (r < 0)
			return r;
	}
	if (opts->seccomp) {
		r = install_filter(opts->extended, d);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Compile time tells whether this is an AddressSanitizer build (the Makefile's
 * SANITIZE=1 always includes it); valgrind is known only at run time, by the
 * preload library it injects into the programs it runs.
 */
bool sandbox_runtime_extended(void)
{
	const char *preload = getenv("LD_PRELOAD");

#if defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
	return true;
#endif
#endif
	return preload && strstr(preload, "vgpreload") != NULL;
}
