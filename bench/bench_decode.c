/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoder throughput and memory.
 *
 * Generates a list response and a watch stream of ConfigMaps that each carry
 * docker-default.json (JSON-escaped) as a data value, feeds them to the
 * decoders in 16 KiB pieces and reports MB/s next to a floor measured in the
 * same run over the same pieces: a bare newline scan with memchr, the least
 * any reader of the stream must do.  Then, in child processes that generate
 * the stream on the fly (so the stream itself is never in memory), peak RSS
 * and the decoder's own peak allocation for a 10 MB and a 100 MB stream: they
 * must not depend on the length.
 *
 * usage: bench_decode PROFILE_DIR [--mb N] [--runs N] [--out FILE]
 * Writes the results table to bench/results-decode.md unless --out says otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_version.h>

#include "common/buf.h"
#include "k8s/decode.h"

#define PIECE	  16384
#define MB	  (1000.0 * 1000.0)
#define MAX_RUNS  15
#define ANNOTATED "seccomp.security.kubernetes.io/profile"

/* Generates a stream event by event, so that any length costs no memory. */
struct gen {
	enum k8s_stream stream;
	const char *escaped; /* the profile, JSON-escaped */
	size_t target;	     /* stop after the event that crosses this many bytes */
	size_t produced;
	size_t n;
	struct buf ev;
	size_t off;
	int state; /* 0 header, 1 events, 2 trailer, 3 done */
};

static void die(const char *what)
{
	fprintf(stderr, "bench_decode: %s\n", what);
	exit(1);
}

static void gen_init(struct gen *g, enum k8s_stream stream, const char *escaped, size_t target)
{
	memset(g, 0, sizeof(*g));
	g->stream = stream;
	g->escaped = escaped;
	g->target = target;
	buf_init(&g->ev, 0);
}

/* The next piece of text into g->ev. */
static void gen_next(struct gen *g)
{
	buf_reset(&g->ev);
	g->off = 0;
	if (g->state == 0) {
		if (g->stream == K8S_STREAM_LIST &&
		    buf_appendf(&g->ev,
				"{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
				"{\"resourceVersion\":\"1000\"},\"items\":[") < 0)
			die("out of memory");
		g->state = 1;
		return;
	}
	if (g->state == 2) {
		if (g->stream == K8S_STREAM_LIST && buf_appendf(&g->ev, "]}") < 0)
			die("out of memory");
		g->state = 3;
		return;
	}
	if (buf_appendf(&g->ev,
			"%s%s{\"metadata\":{\"name\":\"profiles-%zu\",\"namespace\":\"default\","
			"\"uid\":\"6b1f3c0e-1d2a-4c55-9e7a-%012zu\",\"resourceVersion\":\"%zu\","
			"\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app\":"
			"\"seccomp\"},\"annotations\":{\"" ANNOTATED "\":\"true\"}},"
			"\"data\":{\"docker-default.json\":\"%s\"}}%s",
			g->stream == K8S_STREAM_WATCH ? "{\"type\":\"ADDED\",\"object\":" : "",
			g->stream == K8S_STREAM_LIST && g->n ? "," : "", g->n, g->n, 2000 + g->n,
			g->escaped, g->stream == K8S_STREAM_WATCH ? "}\n" : "") < 0)
		die("out of memory");
	g->n++;
	if (g->produced + g->ev.len >= g->target)
		g->state = 2;
}

/* Fill up to @cap bytes; returns 0 at the end of the stream. */
static size_t gen_fill(struct gen *g, char *out, size_t cap)
{
	size_t n = 0;

	while (n < cap) {
		size_t take;

		if (g->off == g->ev.len) {
			if (g->state == 3)
				break;
			gen_next(g);
			continue;
		}
		take = g->ev.len - g->off < cap - n ? g->ev.len - g->off : cap - n;
		memcpy(out + n, g->ev.data + g->off, take);
		g->off += take;
		n += take;
	}
	g->produced += n;
	return n;
}

static char *json_escape(const char *s, size_t len)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int r;

		if (c == '"' || c == '\\')
			r = buf_appendf(&b, "\\%c", c);
		else if (c == '\n')
			r = buf_append(&b, "\\n", 2);
		else if (c == '\t')
			r = buf_append(&b, "\\t", 2);
		else if (c < 0x20)
			r = buf_appendf(&b, "\\u%04x", c);
		else
			r = buf_append(&b, &s[i], 1);
		if (r < 0)
			die("out of memory");
	}
	return buf_detach(&b, NULL);
}

static char *read_profile(const char *dir, size_t *len)
{
	char path[4096];
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/docker-default.json", dir);
	f = fopen(path, "rbe");
	if (!f)
		die("cannot open PROFILE_DIR/docker-default.json");
	buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			die("profile too large");
	(void)fclose(f);
	return buf_detach(&b, len);
}

struct sink {
	size_t objects;
	size_t bytes;
};

static int on_object(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	struct sink *s = ctx;
	size_t i;

	(void)type;
	s->objects++;
	for (i = 0; i < o->n_data; i++)
		s->bytes += o->data[i].value_len;
	return 0;
}

static const struct k8s_decode_ops sink_ops = { .object = on_object };

static double now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct k8s_decoder *new_decoder(enum k8s_stream stream, struct sink *s)
{
	struct k8s_decode_opts opts = { .stream = stream, .require_annotation = ANNOTATED };
	struct k8s_decoder *dec = NULL;
	struct diag d;

	if (k8s_decoder_new(&opts, &sink_ops, s, &dec, &d) < 0)
		die(d.msg);
	return dec;
}

/* Seconds to decode @len bytes of @data in PIECE-sized feeds. */
static double time_decode(enum k8s_stream stream, const char *data, size_t len, size_t *objects)
{
	struct sink s = { 0, 0 };
	struct k8s_decoder *dec = new_decoder(stream, &s);
	struct diag d;
	size_t off;
	double t0 = now(), t;

	for (off = 0; off < len; off += PIECE)
		if (k8s_decoder_feed(dec, data + off, len - off < PIECE ? len - off : PIECE, &d) <
		    0)
			die(d.msg);
	if (k8s_decoder_finish(dec, &d) < 0)
		die(d.msg);
	t = now() - t0;
	k8s_decoder_free(dec);
	*objects = s.objects;
	return t;
}

/* The floor: find every newline in the same pieces. */
static double time_floor(const char *data, size_t len, size_t *lines)
{
	size_t off, n = 0;
	double t0 = now();

	for (off = 0; off < len; off += PIECE) {
		const char *p = data + off, *end = p + (len - off < PIECE ? len - off : PIECE);

		while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			n++;
			p++;
		}
	}
	*lines = n;
	return now() - t0;
}

struct mem_result {
	long maxrss_kb;
	size_t peak;
	size_t allocs;
	size_t objects;
	size_t bytes;
};

/* In a child: generate @target bytes on the fly and decode them. */
static struct mem_result measure_memory(enum k8s_stream stream, const char *escaped, size_t target)
{
	struct mem_result m;
	struct rusage ru;
	int fds[2], status;
	pid_t pid;

	memset(&m, 0, sizeof(m));
	if (pipe2(fds, O_CLOEXEC) < 0)
		die("pipe failed");
	pid = fork();
	if (pid < 0)
		die("fork failed");
	if (pid == 0) {
		struct sink s = { 0, 0 };
		struct k8s_decoder *dec = new_decoder(stream, &s);
		struct k8s_decode_mem dm;
		struct gen g;
		struct diag d;
		static char piece[PIECE];
		size_t n;

		gen_init(&g, stream, escaped, target);
		while ((n = gen_fill(&g, piece, sizeof(piece))) > 0)
			if (k8s_decoder_feed(dec, piece, n, &d) < 0)
				_exit(2);
		if (k8s_decoder_finish(dec, &d) < 0)
			_exit(3);
		k8s_decoder_mem(dec, &dm);
		m.peak = dm.peak;
		m.allocs = dm.allocs;
		m.objects = s.objects;
		m.bytes = g.produced;
		if (write(fds[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(4);
		_exit(0);
	}
	(void)close(fds[1]);
	if (read(fds[0], &m, sizeof(m)) != (ssize_t)sizeof(m))
		die("child failed");
	(void)close(fds[0]);
	if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("child failed");
	m.maxrss_kb = ru.ru_maxrss;
	return m;
}

static char *generate(enum k8s_stream stream, const char *escaped, size_t target, size_t *len)
{
	struct buf all;
	struct gen g;
	static char piece[PIECE];
	size_t n;

	buf_init(&all, 0);
	gen_init(&g, stream, escaped, target);
	while ((n = gen_fill(&g, piece, sizeof(piece))) > 0)
		if (buf_append(&all, piece, n) < 0)
			die("out of memory");
	buf_release(&g.ev);
	return buf_detach(&all, len);
}

static const struct {
	enum k8s_stream stream;
	const char *name;
} streams[] = { { K8S_STREAM_LIST, "list" }, { K8S_STREAM_WATCH, "watch" } };

/* Peak memory for a tenth of @mb and for @mb megabytes of each stream. */
static void memory_table(struct buf *table, const char *escaped, size_t mb)
{
	struct mem_result m;
	size_t i;
	int s;

	(void)buf_appendf(
		table,
		"\nMemory, in a child process that generates the stream on the fly (the "
		"stream is never in memory): peak RSS of the whole process (getrusage) "
		"and the decoder's own peak allocation (k8s_decoder_mem(), yajl's buffers "
		"included).  The first row decodes a single object, for comparison.\n\n"
		"| stream | size | objects | peak RSS | decoder peak | decoder allocations |\n"
		"|---|---|---|---|---|---|\n");
	m = measure_memory(K8S_STREAM_WATCH, escaped, 1);
	printf("one object: peak RSS %ld KiB, decoder peak %zu bytes, %zu allocations\n",
	       m.maxrss_kb, m.peak, m.allocs);
	(void)buf_appendf(table,
			  "| watch, one object | %.2f MB | %zu | %ld KiB | %zu bytes | %zu |\n",
			  (double)m.bytes / MB, m.objects, m.maxrss_kb, m.peak, m.allocs);
	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		size_t sizes[2] = { mb * 1000 * 1000 / 10, mb * 1000 * 1000 };

		for (s = 0; s < 2; s++) {
			m = measure_memory(streams[i].stream, escaped, sizes[s]);
			printf("%-5s %7.1f MB %6zu objects: peak RSS %ld KiB, decoder peak %zu "
			       "bytes, "
			       "%zu allocations\n",
			       streams[i].name, (double)m.bytes / MB, m.objects, m.maxrss_kb,
			       m.peak, m.allocs);
			(void)buf_appendf(table,
					  "| %s | %.1f MB | %zu | %ld KiB | %zu bytes | %zu |\n",
					  streams[i].name, (double)m.bytes / MB, m.objects,
					  m.maxrss_kb, m.peak, m.allocs);
		}
	}
}

/* Median throughput of the decoder and of the floor over the same pieces. */
static void speed_table(struct buf *table, const char *escaped, size_t mb, int runs)
{
	size_t i;
	int k;

	(void)buf_appendf(table, "| stream | size | objects | decoder MB/s (median) | decoder MB/s "
				 "(best) | floor MB/s (median) | floor/decoder |\n"
				 "|---|---|---|---|---|---|---|\n");
	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		double tdec[MAX_RUNS] = { 0 }, tfloor[MAX_RUNS] = { 0 }, mdec, mfloor, best;
		size_t len, objects = 0, lines = 0;
		char *data = generate(streams[i].stream, escaped, mb * 1000 * 1000, &len);

		for (k = 0; k < runs; k++) {
			tdec[k] = time_decode(streams[i].stream, data, len, &objects);
			tfloor[k] = time_floor(data, len, &lines);
		}
		mdec = (double)len / MB / median(tdec, runs);
		best = (double)len / MB / tdec[0]; /* median() sorted it */
		mfloor = (double)len / MB / median(tfloor, runs);
		printf("%-5s %7.1f MB %6zu objects: decoder %6.1f MB/s (best %6.1f), floor %8.1f "
		       "MB/s "
		       "(%zu lines), floor/decoder %.0fx\n",
		       streams[i].name, (double)len / MB, objects, mdec, best, mfloor, lines,
		       mfloor / mdec);
		(void)buf_appendf(table, "| %s | %.1f MB | %zu | %.1f | %.1f | %.1f | %.0fx |\n",
				  streams[i].name, (double)len / MB, objects, mdec, best, mfloor,
				  mfloor / mdec);
		free(data);
	}
}

static void machine(char *cpu, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	(void)snprintf(cpu, cap, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
			(void)snprintf(cpu, cap, "%s", strchr(line, ':') + 2);
			cpu[strcspn(cpu, "\n")] = '\0';
			break;
		}
	}
	(void)fclose(f);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *out = "bench/results-decode.md";
	size_t mb = 100, raw_len;
	int runs = 5, k;
	char *raw, *escaped, cpu[256];
	struct buf table;
	struct utsname un;
	FILE *f;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--mb") == 0 && k + 1 < argc)
			mb = strtoul(argv[++k], NULL, 10);
		else if (strcmp(argv[k], "--runs") == 0 && k + 1 < argc)
			runs = (int)strtol(argv[++k], NULL, 10);
		else if (strcmp(argv[k], "--out") == 0 && k + 1 < argc)
			out = argv[++k];
		else if (!dir)
			dir = argv[k];
		else
			die("usage: bench_decode PROFILE_DIR [--mb N] [--runs N] [--out FILE]");
	}
	if (!dir || mb == 0 || mb > 10000 || runs < 1 || runs > MAX_RUNS)
		die("usage: bench_decode PROFILE_DIR [--mb N (1-10000)] [--runs N (1-15)] [--out "
		    "FILE]");
	raw = read_profile(dir, &raw_len);
	escaped = json_escape(raw, raw_len);
	machine(cpu, sizeof(cpu));
	if (uname(&un) < 0)
		die("uname failed");

	buf_init(&table, 0);
	(void)buf_appendf(
		&table,
		"# Decoder benchmark (bench/bench_decode.c)\n\n"
		"Machine: %s, %ld CPUs, Linux %s; compiler %s; yajl %d.%d.%d.\n"
		"Command: `make bench` (runs `build/bench/bench_decode tests/data/profiles`; "
		"this table: `--mb %zu --runs %d`).\n\n"
		"Streams of ConfigMaps each carrying docker-default.json (%zu bytes, %zu "
		"JSON-escaped) as a data value and the marker annotation, decoded with "
		"require_annotation set and fed in %d-byte pieces.  Floor: a memchr "
		"newline scan over the same bytes in the same pieces.  Medians of %d runs, "
		"timed in process CPU time (the machine is shared).  yajl lexes a token that a "
		"feed boundary cuts again from its start on every later feed; the decoder "
		"holds an unterminated string back until it closes, so small pieces cost "
		"little more than one large feed.\n\n",
		cpu, sysconf(_SC_NPROCESSORS_ONLN), un.release, __VERSION__, YAJL_MAJOR, YAJL_MINOR,
		YAJL_MICRO, mb, runs, raw_len, strlen(escaped), PIECE, runs);
	printf("bench_decode: %zu MB streams, %d runs, %d-byte pieces\n", mb, runs, PIECE);
	/* memory first, while this process is still small (children inherit its pages) */
	{
		struct buf mem;

		buf_init(&mem, 0);
		memory_table(&mem, escaped, mb);
		speed_table(&table, escaped, mb, runs);
		if (buf_append(&table, mem.data, mem.len) < 0)
			die("out of memory");
		buf_release(&mem);
	}
	f = fopen(out, "we");
	if (!f || fputs(table.data, f) < 0 || fclose(f) != 0)
		die("cannot write the results file");
	printf("bench_decode: wrote %s\n", out);
	buf_release(&table);
	free(escaped);
	free(raw);
	return 0;
}
