/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/sandbox: in a forked child, no_new_privs, capabilities, the seccomp
 * allow-list (forbidden calls fail with EPERM and do not kill), then what the
 * daemon really does inside it: the store's file operations, threads, a memfd,
 * libseccomp compiling a profile (the validator), TCP and UDP on loopback,
 * getaddrinfo, libcurl, and the HTTP endpoint whose thread started earlier.
 * The test uses libseccomp and libcurl directly to stand in for the modules
 * that own them.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "common/diag.h"
#include "daemon/endpoint.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/sandbox.h"

/* In the child cmocka cannot be used: a failed check writes why to the parent and exits. */
static int report_fd = -1;

static void child_fail(int line, const char *what)
{
	char msg[512];
	int n, e = errno;

	n = snprintf(msg, sizeof(msg), "line %d: %s (errno %d %s)", line, what, e, strerror(e));
	if (n > 0)
		(void)!write(report_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(1);
}

#define CHECK(c)                                  \
	do {                                      \
		if (!(c))                         \
			child_fail(__LINE__, #c); \
	} while (0)

/* A syscall that the filter refuses: -1 with EPERM, and the process is still here. */
#define CHECK_EPERM(call)                                                       \
	do {                                                                    \
		errno = 0;                                                      \
		if ((call) != -1 || errno != EPERM)                             \
			child_fail(__LINE__, "not refused with EPERM: " #call); \
	} while (0)

/* Run @fn in a child; fail the test with the child's message if it does not exit 0. */
static void in_child(void (*fn)(void *), void *arg)
{
	char msg[512];
	int p[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], msg, sizeof(msg) - 1);
	close(p[0]);
	msg[n > 0 ? n : 0] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d %s", WTERMSIG(status), msg);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed: %s", msg);
}

/* The value of a "Name:\tvalue" line of @path. */
static bool status_field(const char *path, const char *name, char *out, size_t size)
{
	char buf[8192], key[64];
	ssize_t n;
	char *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	(void)snprintf(key, sizeof(key), "\n%s:\t", name);
	p = strstr(buf, key);
	if (!p)
		return false;
	p += strlen(key);
	(void)snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
	return true;
}

static bool self_field_is(const char *name, const char *want)
{
	char v[64];

	return status_field("/proc/self/status", name, v, sizeof(v)) && strcmp(v, want) == 0;
}

static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

struct mode {
	struct sandbox_opts opts;
	bool caps_zero;
	const char *seccomp; /* /proc/self/status Seccomp: 0 none, 2 filter */
};

static void child_mode(void *arg)
{
	const struct mode *m = arg;
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	struct diag d;
	size_t i;

	diag_clear(&d);
	if (sandbox_enter(&m->opts, &d) < 0)
		child_fail(__LINE__, d.msg);
	CHECK(self_field_is("NoNewPrivs", "1"));
	CHECK(self_field_is("Seccomp", m->seccomp));
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (m->caps_zero)
			CHECK(self_field_is(caps[i], "0000000000000000"));
	}
	if (!m->caps_zero)
		CHECK(!self_field_is("CapEff", "0000000000000000"));
	/* whatever the mode: allowed calls work and the process goes on */
	CHECK(getpid() > 0);
	CHECK(write(report_fd, "", 0) == 0);
}

static void test_modes(void **state)
{
	bool ext = sandbox_runtime_extended();
	struct mode modes[] = {
		{ { false, false, ext }, false, "0" },
		{ { true, false, ext }, true, "0" },
		{ { false, true, ext }, false, "2" },
		{ { true, true, ext }, true, "2" },
	};
	size_t i;

	(void)state;
	if (geteuid() != 0)
		skip(); /* the capability checks need a privileged start, like the DaemonSet's */
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		in_child(child_mode, &modes[i]);
}

/* Everything the sandboxed child uses that the daemon opens or starts before it confines itself. */
struct world {
	char dir[64]; /* a temp dir, the stand-in for <kubelet-dir>/seccomp/operator */
	int dirfd;
	int tcp_listener;
	int udp_server;
	struct metrics *m;
	struct endpoint *e;
	bool extended;
};

static void *thread_fn(void *arg)
{
	int *v = arg;

	*v = 42;
	return NULL;
}

static void store_workload(const struct world *w)
{
	static const char body[] = "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}\n";
	struct stat st;
	DIR *dir;
	struct dirent *de;
	int nsfd, fd, lockfd, seen = 0;

	lockfd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(lockfd >= 0);
	CHECK(flock(lockfd, LOCK_EX | LOCK_NB) == 0);
	CHECK(mkdirat(w->dirfd, "ns", 0755) == 0);
	{
		/* the store opens below operator/ with openat2 where the kernel has it */
		struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };

		nsfd = (int)syscall(SYS_openat2, w->dirfd, "ns", &how, sizeof(how));
		CHECK(nsfd >= 0 || errno == ENOSYS);
		if (nsfd >= 0)
			CHECK(close(nsfd) == 0);
	}
	nsfd = openat(w->dirfd, "ns", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	CHECK(nsfd >= 0);
	fd = openat(nsfd, ",key.json.tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	CHECK(fd >= 0);
	CHECK(write(fd, body, sizeof(body) - 1) == (ssize_t)(sizeof(body) - 1));
	CHECK(fchmod(fd, 0644) == 0);
	CHECK(fsync(fd) == 0);
	CHECK(fdatasync(fd) == 0);
	CHECK(syncfs(fd) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)(sizeof(body) - 1));
	CHECK(close(fd) == 0);
	CHECK(renameat(nsfd, ",key.json.tmp", nsfd, "key.json") == 0);
	CHECK(fsync(nsfd) == 0);
	CHECK(fstatat(nsfd, "key.json", &st, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK((st.st_mode & 07777) == 0644);
	fd = openat(nsfd, ",second", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(close(fd) == 0);
	CHECK(syscall(SYS_renameat2, nsfd, ",second", nsfd, "key.json", 1 /* NOREPLACE */) == -1 &&
	      errno == EEXIST);
	CHECK(unlinkat(nsfd, ",second", 0) == 0);

	/* the sweep reads directories */
	fd = openat(nsfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	dir = fdopendir(fd);
	CHECK(dir != NULL);
	while ((de = readdir(dir)) != NULL)
		seen += strcmp(de->d_name, "key.json") == 0;
	CHECK(seen == 1);
	closedir(dir);

	fd = openat(nsfd, "key.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	CHECK(fd >= 0);
	{
		char got[sizeof(body)];

		CHECK(pread(fd, got, sizeof(got), 0) == (ssize_t)(sizeof(body) - 1));
		CHECK(memcmp(got, body, sizeof(body) - 1) == 0);
	}
	CHECK(close(fd) == 0);
	CHECK(unlinkat(nsfd, "key.json", 0) == 0);
	CHECK(close(nsfd) == 0);
	CHECK(unlinkat(w->dirfd, "ns", AT_REMOVEDIR) == 0);
	CHECK(flock(lockfd, LOCK_UN) == 0);
	CHECK(close(lockfd) == 0);
}

/*
 * What the validator does after the sandbox: compile a profile and export its
 * BPF to a memfd.  The actions it may use depend on libseccomp's API level,
 * which the sandbox must not lower (valgrind, lacking seccomp(2), has level 1).
 */
static void validator_workload(unsigned api_before)
{
	bool modern = seccomp_api_get() >= 3;
	scmp_filter_ctx ctx;
	struct stat st;
	int fd;

	CHECK(seccomp_api_get() == api_before);
	CHECK(api_before >= 3 || under_valgrind());
	ctx = seccomp_init(modern ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL);
	CHECK(ctx != NULL);
	CHECK(seccomp_arch_add(ctx, SCMP_ARCH_X86) == 0 ||
	      seccomp_arch_native() != SCMP_ARCH_X86_64);
	CHECK(seccomp_rule_add(ctx, modern ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(1), SCMP_SYS(read), 0) ==
	      0);
	CHECK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), 0) == 0);
	CHECK(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
			       SCMP_A0(SCMP_CMP_EQ, 2, 0)) == 0);
	fd = memfd_create("bpf", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(seccomp_export_bpf(ctx, fd) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size % 8 == 0);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	{
		char insn[8];

		CHECK(read(fd, insn, sizeof(insn)) == (ssize_t)sizeof(insn));
	}
	CHECK(close(fd) == 0);
	seccomp_release(ctx);
}

static void network_workload(const struct world *w)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char buf[16];
	int c, s;

	/* TCP to a listener opened before the sandbox, like the API server connection */
	CHECK(getsockname(w->tcp_listener, (struct sockaddr *)&a, &alen) == 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	{
		int one = 1;

		CHECK(setsockopt(c, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one)) == 0);
	}
	CHECK(connect(c, (struct sockaddr *)&a, alen) == 0);
	s = accept4(w->tcp_listener, NULL, NULL, SOCK_CLOEXEC);
	CHECK(s >= 0);
	CHECK(send(c, "ping", 4, MSG_NOSIGNAL) == 4);
	CHECK(recv(s, buf, sizeof(buf), 0) == 4 && memcmp(buf, "ping", 4) == 0);
	{
		int err = -1;
		socklen_t elen = sizeof(err);

		CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0);
		CHECK(ioctl(s, FIONREAD, &err) == 0 && err == 0);
	}
	CHECK(shutdown(c, SHUT_RDWR) == 0);
	close(c);
	close(s);

	/* UDP, the shape of a DNS query */
	alen = sizeof(a);
	CHECK(getsockname(w->udp_server, (struct sockaddr *)&a, &alen) == 0);
	c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&a, alen) == 0);
	CHECK(send(c, "q", 1, 0) == 1);
	CHECK(recvfrom(w->udp_server, buf, sizeof(buf), 0, NULL, NULL) == 1);
	close(c);

	/* /etc/hosts, nsswitch.conf, the NSS modules, netlink for AI_ADDRCONFIG */
	hints.ai_flags = AI_ADDRCONFIG;
	CHECK(getaddrinfo("localhost", "443", &hints, &res) == 0);
	CHECK(res != NULL);
	freeaddrinfo(res);
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	size_t *total = arg;

	(void)p;
	*total += size * n;
	return size * n;
}

/* libcurl (the API client's transport) fetches /metrics from the endpoint's thread. */
static void http_workload(const struct world *w)
{
	CURL *h = curl_easy_init();
	char url[64];
	long code = 0;
	size_t total = 0;

	CHECK(h != NULL);
	(void)snprintf(url, sizeof(url), "http://localhost:%d/metrics", endpoint_port(w->e));
	CHECK(curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK);
	CHECK(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK);
	CHECK(curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L) == CURLE_OK);
	CHECK(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink) == CURLE_OK);
	CHECK(curl_easy_setopt(h, CURLOPT_WRITEDATA, &total) == CURLE_OK);
	CHECK(curl_easy_perform(h) == CURLE_OK);
	CHECK(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200);
	CHECK(total > 100);
	curl_easy_cleanup(h);
}

/* Every thread, the endpoint's included (started before), runs under the filter. */
static void check_all_threads_filtered(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		char path[300], v[16];

		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		CHECK(status_field(path, "Seccomp", v, sizeof(v)));
		CHECK(strcmp(v, "2") == 0);
		n++;
	}
	closedir(d);
	CHECK(n >= 2);
}

static void refused_calls(const struct world *w)
{
	char *const argv[] = { "true", NULL };
	struct rlimit rl;

	/* never on either list */
	CHECK_EPERM(chdir("/"));
	CHECK_EPERM(syscall(SYS_setsid));
	CHECK_EPERM(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
	CHECK_EPERM(syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0));
	CHECK_EPERM(syscall(SYS_unshare, 0));
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	/* valgrind answers these itself, without asking the kernel (so the filter never sees them) */
	if (!under_valgrind()) {
		CHECK_EPERM(syscall(SYS_execve, "/nonexistent", argv, argv + 1));
		CHECK_EPERM(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL));
		/* limits can be read, not changed */
		CHECK_EPERM(setrlimit(RLIMIT_NOFILE, &rl));
	}
	/* clone3 says ENOSYS so that glibc falls back to clone, whose flags the filter checks */
	errno = 0;
	CHECK(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS);
	if (w->extended)
		return;
	/* restricted in the base list, opened up for sanitizer runtimes */
	CHECK_EPERM(fork());
	CHECK_EPERM(kill(getppid(), 0));
	CHECK_EPERM(syscall(SYS_getcwd, (char[64]){ 0 }, 64));
	CHECK_EPERM(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	CHECK_EPERM(ioctl(w->dirfd, FIOCLEX));
	CHECK_EPERM(syscall(SYS_personality, 0xffffffffUL));
}

static void child_workload(void *arg)
{
	struct world *w = arg;
	struct sandbox_opts o = { .drop_caps = geteuid() == 0, .seccomp = true };
	struct diag d;
	pthread_t t;
	int v = 0, api;

	o.extended = w->extended;
	api = seccomp_api_get();
	/* started before the sandbox, like the daemon's endpoint */
	CHECK(metrics_new(&w->m) == 0);
	metrics_loop_tick(w->m, 1);
	if (endpoint_start("127.0.0.1:0", w->m, &w->e, &d) < 0)
		child_fail(__LINE__, d.msg);
	CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);

	if (sandbox_enter(&o, &d) < 0)
		child_fail(__LINE__, d.msg);
	CHECK(self_field_is("Seccomp", "2"));

	refused_calls(w);
	CHECK(pthread_create(&t, NULL, thread_fn, &v) == 0);
	CHECK(pthread_join(t, NULL) == 0 && v == 42);
	/* seccomp_api_get() < 2: no TSYNC, which sandbox.c accepts under valgrind only */
	CHECK(seccomp_api_get() >= 2 || w->extended);
	if (seccomp_api_get() >= 2)
		check_all_threads_filtered();
	store_workload(w);
	validator_workload((unsigned)api);
	network_workload(w);
	http_workload(w);
	log_kv(LOG_LVL_INFO, "sandboxed", "check", "logging works", LOG_END);
	{
		struct timespec ts = { 0, 1000 };
		char rnd[16];

		CHECK(nanosleep(&ts, NULL) == 0);
		CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
		CHECK(getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd));
		CHECK(sched_yield() == 0);
	}
	endpoint_stop(w->e);
	metrics_free(w->m);
	curl_global_cleanup();
}

static int open_bound(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	if (type == SOCK_STREAM && listen(fd, 4) < 0)
		return -1;
	return fd;
}

static void test_workload(void **state)
{
	struct world w;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.extended = sandbox_runtime_extended();
	(void)snprintf(w.dir, sizeof(w.dir), "/tmp/test_sandbox.XXXXXX");
	assert_non_null(mkdtemp(w.dir));
	w.dirfd = open(w.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(w.dirfd >= 0);
	w.tcp_listener = open_bound(SOCK_STREAM);
	w.udp_server = open_bound(SOCK_DGRAM);
	assert_true(w.tcp_listener >= 0 && w.udp_server >= 0);

	in_child(child_workload, &w);

	close(w.tcp_listener);
	close(w.udp_server);
	close(w.dirfd);
	/* the child removed what it made: the directory is empty again */
	assert_int_equal(rmdir(w.dir), 0);
}

/* Once confined, entering again cannot loosen anything: it fails, and the process goes on. */
static void child_twice(void *arg)
{
	struct sandbox_opts o = { .drop_caps = geteuid() == 0, .seccomp = true };
	struct diag d;

	(void)arg;
	o.extended = sandbox_runtime_extended();
	CHECK(sandbox_enter(&o, &d) == 0);
	CHECK(sandbox_enter(&o, &d) == -EPERM);
	/* prctl is open in the extended list: then capset or the filter load is the refusal */
	CHECK(o.extended || strstr(d.msg, "no_new_privs") != NULL);
	CHECK(self_field_is("Seccomp", "2"));
	CHECK_EPERM(chdir("/"));
	CHECK(getpid() > 0);
}

static void test_twice(void **state)
{
	(void)state;
	in_child(child_twice, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_workload),
		cmocka_unit_test(test_twice),
	};

	log_setup(LOG_FMT_TEXT, LOG_LVL_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
