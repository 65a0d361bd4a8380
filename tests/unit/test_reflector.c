/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/reflector: the list+watch state machine, driven by scripts of results
 * with a fake clock and a fake random source.  Each scenario is a table of
 * steps; each step feeds one input and states the whole expected action.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "k8s/reflector.h"

/* A fake random source: a fixed value, or a linear congruential sequence. */
struct fake_rng {
	uint32_t value;
	int lcg;
	uint64_t state;
};

static uint32_t fake_random(void *ctx)
{
	struct fake_rng *f = ctx;

	if (!f->lcg)
		return f->value;
	f->state = f->state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(f->state >> 32);
}

enum op {
	OP_END = 0,
	OP_START,
	OP_RESUME,
	OP_OPENED,
	OP_EVENT,
	OP_RESULT,
};

#define NO_RV	 ((const char *)0)
#define ANY_WAIT 0

struct step {
	enum op op;
	uint64_t at; /* fake clock, ms */
	/* OP_EVENT */
	enum k8s_event_type type;
	const char *ev_rv;
	bool initial_end;
	int want_ret;
	/* OP_RESULT */
	struct k8s_result res;
	/* expected action (OP_START, OP_RESUME, OP_RESULT) */
	enum k8s_action_kind kind;
	const char *rv;
	unsigned limit;
	const char *cont;
	bool relist_begin;
	bool relist_end;
	bool streaming;
	const char *restart;
	uint64_t wait_min, wait_max; /* WAIT: until - at lies in [wait_min, wait_max) */
	bool failed;
};

#define HTTP(c)                                   \
	{                                         \
		.kind = K8S_RES_HTTP, .code = (c) \
	}
#define OK_PAGE(r, c)                                                              \
	{                                                                          \
		.kind = K8S_RES_OK, .resource_version = (r), .continue_token = (c) \
	}
#define OK_END                     \
	{                          \
		.kind = K8S_RES_OK \
	}

/* With a jitter value of 0 every wait is exactly d. */
#define D0 800
#define D1 1600
#define D2 3200

struct scenario {
	const char *name;
	bool list_only;
	bool streaming;
	uint32_t rnd;
	struct step steps[24];
};

static const struct scenario scenarios[] = {
	{ "first list paged at 0, continue pages without rv, then watch",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("7", "c1"),
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .cont = "c1" },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = OK_PAGE("8", "c2"),
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .cont = "c2" },
	    { .op = OP_RESULT,
	      .at = 30,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { 0 } } },
	{ "expired continue token: one unpaged list at the same rv",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("7", "c1"),
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .cont = "c1" },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = HTTP(410),
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 30,
	      .res = OK_PAGE("12", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "12",
	      .relist_end = true },
	    { 0 } } },
	{ "unpaged retry that expires too: back off, consistent list",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("7", "c1"),
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .cont = "c1" },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = HTTP(410),
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 30,
	      .res = HTTP(410),
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 830,
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .relist_begin = true },
	    { 0 } } },
	{ "clean watch end: re-watch from the last rv, no relist",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 20 },
	    { .op = OP_EVENT, .type = K8S_EV_ADDED, .ev_rv = "10" },
	    { .op = OP_EVENT, .type = K8S_EV_BOOKMARK, .ev_rv = "15" },
	    { .op = OP_RESULT,
	      .at = 300000,
	      .res = OK_END,
	      .kind = K8S_ACT_WATCH,
	      .rv = "15",
	      .restart = "timeout" },
	    { .op = OP_OPENED, .at = 300010 },
	    { .op = OP_EVENT, .type = K8S_EV_DELETED, .ev_rv = "16" },
	    { .op = OP_RESULT,
	      .at = 300500,
	      .res = OK_END,
	      .kind = K8S_ACT_WATCH,
	      .rv = "16",
	      .restart = "timeout" },
	    { .op = OP_OPENED, .at = 300600 },
	    { .op = OP_RESULT,
	      .at = 302000,
	      .res = { .kind = K8S_RES_BROKEN },
	      .kind = K8S_ACT_WATCH,
	      .rv = "16",
	      .restart = "closed" },
	    { 0 } } },
	{ "watch 410 as HTTP: back off, relist at the last rv unpaged",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 20 },
	    { .op = OP_EVENT, .type = K8S_EV_MODIFIED, .ev_rv = "11" },
	    { .op = OP_RESULT,
	      .at = 5000,
	      .res = OK_END,
	      .kind = K8S_ACT_WATCH,
	      .rv = "11",
	      .restart = "timeout" },
	    { .op = OP_RESULT,
	      .at = 5010,
	      .res = HTTP(410),
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME, .at = 5500, .kind = K8S_ACT_WAIT, .wait_min = 310, .wait_max = 311 },
	    { .op = OP_RESUME,
	      .at = 5810,
	      .kind = K8S_ACT_LIST,
	      .rv = "11",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 5900,
	      .res = OK_PAGE("20", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "20",
	      .relist_end = true },
	    { 0 } } },
	{ "watch 410 as an ERROR event: back off, relist",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 20 },
	    { .op = OP_EVENT, .type = K8S_EV_ADDED, .ev_rv = "10" },
	    { .op = OP_RESULT,
	      .at = 3000,
	      .res = { .kind = K8S_RES_WATCH_ERROR, .code = 410, .reason = "Expired" },
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 3800,
	      .kind = K8S_ACT_LIST,
	      .rv = "10",
	      .limit = 0,
	      .relist_begin = true },
	    { 0 } } },
	{ "list 410 Expired: relist at \"\" (paged) after backoff",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = HTTP(410),
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 820,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 830,
	      .res = { .kind = K8S_RES_HTTP, .code = 410, .reason = "Expired" },
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { .op = OP_RESUME,
	      .at = 2430,
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 2440,
	      .res = OK_PAGE("30", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "30",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 2450,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D2,
	      .wait_max = D2 + 1 },
	    { .op = OP_RESUME,
	      .at = 5650,
	      .kind = K8S_ACT_LIST,
	      .rv = "30",
	      .limit = 0,
	      .relist_begin = true },
	    { 0 } } },
	{ "list 504 ResourceVersionTooLarge: relist at \"\" honouring Retry-After",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = { .kind = K8S_RES_HTTP,
		       .code = 504,
		       .reason = "Timeout",
		       .cause = "ResourceVersionTooLarge",
		       .retry_after_s = 3 },
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = 3000,
	      .wait_max = 3001 },
	    { .op = OP_RESUME,
	      .at = 3010,
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .relist_begin = true },
	    { 0 } } },
	{ "list 504 without the cause keeps the rv",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = HTTP(504),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 810,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { 0 } } },
	{ "429 on a watch: back off, re-watch without relist, Retry-After wins",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = { .kind = K8S_RES_HTTP, .code = 429, .retry_after_s = 7 },
	      .kind = K8S_ACT_WAIT,
	      .restart = "throttled",
	      .wait_min = 7000,
	      .wait_max = 7001 },
	    { .op = OP_RESUME, .at = 7019, .kind = K8S_ACT_WAIT, .wait_min = 1, .wait_max = 2 },
	    { .op = OP_RESUME, .at = 7020, .kind = K8S_ACT_WATCH, .rv = "9" },
	    { .op = OP_RESULT,
	      .at = 7030,
	      .res = HTTP(429),
	      .kind = K8S_ACT_WAIT,
	      .restart = "throttled",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { .op = OP_RESUME, .at = 8630, .kind = K8S_ACT_WATCH, .rv = "9" },
	    { .op = OP_RESULT,
	      .at = 8640,
	      .res = { .kind = K8S_RES_HTTP, .code = 429, .retry_after_s = 1 },
	      .kind = K8S_ACT_WAIT,
	      .restart = "throttled",
	      .wait_min = D2,
	      .wait_max = D2 + 1 },
	    { .op = OP_RESUME, .at = 11840, .kind = K8S_ACT_WATCH, .rv = "9" },
	    { .op = OP_RESULT,
	      .at = 11850,
	      .res = { .kind = K8S_RES_HTTP, .code = 429, .retry_after_s = 100000 },
	      .kind = K8S_ACT_WAIT,
	      .restart = "throttled",
	      .wait_min = K8S_RETRY_AFTER_MAX_S * 1000,
	      .wait_max = K8S_RETRY_AFTER_MAX_S * 1000 + 1 },
	    { 0 } } },
	{ "429 as a watch ERROR event: re-watch",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 20 },
	    { .op = OP_RESULT,
	      .at = 30,
	      .res = { .kind = K8S_RES_WATCH_ERROR, .code = 429, .retry_after_s = 0 },
	      .kind = K8S_ACT_WAIT,
	      .restart = "throttled",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME, .at = 830, .kind = K8S_ACT_WATCH, .rv = "9" },
	    { 0 } } },
	{ "connection refused: back off, re-watch; other transport errors relist",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = { .kind = K8S_RES_TRANSPORT, .err = -ECONNREFUSED },
	      .kind = K8S_ACT_WAIT,
	      .restart = "refused",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME, .at = 820, .kind = K8S_ACT_WATCH, .rv = "9" },
	    { .op = OP_RESULT,
	      .at = 830,
	      .res = { .kind = K8S_RES_TRANSPORT, .err = -ETIMEDOUT },
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { .op = OP_RESUME,
	      .at = 2430,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 2440,
	      .res = { .kind = K8S_RES_TRANSPORT, .err = -ECONNREFUSED },
	      .kind = K8S_ACT_WAIT,
	      .restart = "refused",
	      .wait_min = D2,
	      .wait_max = D2 + 1 },
	    { .op = OP_RESUME,
	      .at = 5640,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { 0 } } },
	{ "short watch without events relists; with an event or >= 1 s it does not",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 100 },
	    { .op = OP_RESULT,
	      .at = 1099,
	      .res = OK_END,
	      .kind = K8S_ACT_WAIT,
	      .restart = "short",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 1899,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 1900,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 2000 },
	    { .op = OP_EVENT, .type = K8S_EV_BOOKMARK, .ev_rv = "10" },
	    { .op = OP_RESULT,
	      .at = 2001,
	      .res = OK_END,
	      .kind = K8S_ACT_WATCH,
	      .rv = "10",
	      .restart = "timeout" },
	    { .op = OP_OPENED, .at = 2100 },
	    { .op = OP_RESULT,
	      .at = 3100,
	      .res = OK_END,
	      .kind = K8S_ACT_WATCH,
	      .rv = "10",
	      .restart = "timeout" },
	    { .op = OP_RESULT,
	      .at = 3200,
	      .res = { .kind = K8S_RES_BROKEN },
	      .kind = K8S_ACT_WAIT,
	      .restart = "short",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { 0 } } },
	{ "decode error and other HTTP errors: back off, relist",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = { .kind = K8S_RES_DECODE },
	      .kind = K8S_ACT_WAIT,
	      .restart = "decode",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 810,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 820,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_OPENED, .at = 830 },
	    { .op = OP_EVENT, .type = K8S_EV_ADDED, .ev_rv = "12" },
	    { .op = OP_RESULT,
	      .at = 840,
	      .res = { .kind = K8S_RES_DECODE },
	      .kind = K8S_ACT_WAIT,
	      .restart = "decode",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { .op = OP_RESUME,
	      .at = 2440,
	      .kind = K8S_ACT_LIST,
	      .rv = "12",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 2450,
	      .res = OK_PAGE("12", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "12",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 2460,
	      .res = HTTP(401),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D2,
	      .wait_max = D2 + 1 },
	    { 0 } } },
	{ "backoff resets after two quiet minutes",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 0,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 800,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 800,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { .op = OP_RESUME,
	      .at = 2400,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 800 + 120000,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D2,
	      .wait_max = D2 + 1 },
	    { .op = OP_RESUME,
	      .at = 124000,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 120800 + 120001,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { 0 } } },
	{ "streaming list: initial events, end bookmark, then plain watches",
	  false,
	  true,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_WATCH,
	      .rv = NO_RV,
	      .streaming = true,
	      .relist_begin = true },
	    { .op = OP_OPENED, .at = 10 },
	    { .op = OP_EVENT, .type = K8S_EV_ADDED, .ev_rv = "50" },
	    { .op = OP_EVENT, .type = K8S_EV_ADDED, .ev_rv = "20" },
	    { .op = OP_EVENT, .type = K8S_EV_BOOKMARK, .ev_rv = "60" },
	    { .op = OP_EVENT,
	      .type = K8S_EV_BOOKMARK,
	      .ev_rv = "70",
	      .initial_end = true,
	      .want_ret = K8S_REFLECTOR_INITIAL_END },
	    { .op = OP_EVENT, .type = K8S_EV_MODIFIED, .ev_rv = "71" },
	    { .op = OP_RESULT,
	      .at = 400000,
	      .res = OK_END,
	      .kind = K8S_ACT_WATCH,
	      .rv = "71",
	      .restart = "timeout" },
	    { .op = OP_RESULT,
	      .at = 400010,
	      .res = HTTP(410),
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 400810,
	      .kind = K8S_ACT_WATCH,
	      .rv = "71",
	      .streaming = true,
	      .relist_begin = true },
	    { 0 } } },
	{ "streaming list refused with 422: list+watch for good",
	  false,
	  true,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_WATCH,
	      .rv = NO_RV,
	      .streaming = true,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = HTTP(422),
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true,
	      .restart = "fallback" },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 30,
	      .res = HTTP(410),
	      .kind = K8S_ACT_WAIT,
	      .restart = "expired",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 830,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { 0 } } },
	{ "streaming list refused with 400 or 403 falls back too",
	  false,
	  true,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_WATCH,
	      .rv = NO_RV,
	      .streaming = true,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = HTTP(403),
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true,
	      .restart = "fallback" },
	    { 0 } } },
	{ "streaming list failing otherwise: one ordinary list, then streaming again",
	  false,
	  true,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_WATCH,
	      .rv = NO_RV,
	      .streaming = true,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 810,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 820,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_RESULT,
	      .at = 830,
	      .res = HTTP(500),
	      .kind = K8S_ACT_WAIT,
	      .restart = "error",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { .op = OP_RESUME,
	      .at = 2430,
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .streaming = true,
	      .relist_begin = true },
	    { .op = OP_OPENED, .at = 2440 },
	    { .op = OP_EVENT, .type = K8S_EV_ADDED, .ev_rv = "5" },
	    { .op = OP_RESULT,
	      .at = 9000,
	      .res = OK_END,
	      .kind = K8S_ACT_WAIT,
	      .restart = "short",
	      .wait_min = D2,
	      .wait_max = D2 + 1 },
	    { .op = OP_RESUME,
	      .at = 12200,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { 0 } } },
	{ "streaming list throttled: retried as a streaming list",
	  false,
	  true,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_WATCH,
	      .rv = NO_RV,
	      .streaming = true,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = { .kind = K8S_RES_HTTP, .code = 429, .retry_after_s = 2 },
	      .kind = K8S_ACT_WAIT,
	      .restart = "throttled",
	      .wait_min = 2000,
	      .wait_max = 2001 },
	    { .op = OP_RESUME,
	      .at = 2010,
	      .kind = K8S_ACT_WATCH,
	      .rv = NO_RV,
	      .streaming = true,
	      .relist_begin = true },
	    { 0 } } },
	{ "list_only: every page, then done",
	  true,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("7", "c1"),
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .cont = "c1" },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = HTTP(410),
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 30,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_DONE,
	      .relist_end = true },
	    { .op = OP_RESUME, .at = 40, .kind = K8S_ACT_DONE },
	    { 0 } } },
	{ "list_only: a failure is final",
	  true,
	  true,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("7", "c1"),
	      .kind = K8S_ACT_LIST,
	      .rv = NO_RV,
	      .limit = 500,
	      .cont = "c1" },
	    { .op = OP_RESULT, .at = 20, .res = HTTP(429), .kind = K8S_ACT_DONE, .failed = true },
	    { 0 } } },
	{ "an over-long resourceVersion is refused",
	  false,
	  false,
	  0,
	  { { .op = OP_START,
	      .at = 0,
	      .kind = K8S_ACT_LIST,
	      .rv = "0",
	      .limit = 500,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 10,
	      .res = OK_PAGE("9", ""),
	      .kind = K8S_ACT_WATCH,
	      .rv = "9",
	      .relist_end = true },
	    { .op = OP_EVENT,
	      .type = K8S_EV_ADDED,
	      .ev_rv = "1234567890123456789012345678901234567890123456789012345678901234"
		       "1234567890123456789012345678901234567890123456789012345678901234",
	      .want_ret = -E2BIG },
	    { .op = OP_RESULT,
	      .at = 20,
	      .res = { .kind = K8S_RES_DECODE },
	      .kind = K8S_ACT_WAIT,
	      .restart = "decode",
	      .wait_min = D0,
	      .wait_max = D0 + 1 },
	    { .op = OP_RESUME,
	      .at = 820,
	      .kind = K8S_ACT_LIST,
	      .rv = "9",
	      .limit = 0,
	      .relist_begin = true },
	    { .op = OP_RESULT,
	      .at = 830,
	      .res = OK_PAGE("123456789012345678901234567890123456789012345678901234567890"
			     "123456789012345678901234567890123456789012345678901234567890"
			     "12345678",
			     ""),
	      .kind = K8S_ACT_WAIT,
	      .restart = "decode",
	      .wait_min = D1,
	      .wait_max = D1 + 1 },
	    { 0 } } },
};

/* Both NULL, or equal strings. */
static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond))                                                         \
			fail_msg("scenario '%s', step %zu: %s", sc->name, i, #cond); \
	} while (0)

static void check_action(const struct scenario *sc, size_t i, const struct step *st,
			 const struct k8s_action *act)
{
	CHECK(act->kind == st->kind);
	CHECK(act->relist_end == st->relist_end);
	CHECK(same(act->restart, st->restart));
	switch (st->kind) {
	case K8S_ACT_LIST:
		CHECK(same(act->rv, st->rv));
		CHECK(act->limit == st->limit);
		CHECK(same(act->continue_token, st->cont));
		CHECK(act->relist_begin == st->relist_begin);
		CHECK(!act->streaming);
		break;
	case K8S_ACT_WATCH:
		CHECK(same(act->rv, st->rv));
		CHECK(act->streaming == st->streaming);
		CHECK(act->relist_begin == st->relist_begin);
		CHECK(act->timeout_s >= K8S_WATCH_MIN_S && act->timeout_s <= K8S_WATCH_MAX_S);
		break;
	case K8S_ACT_WAIT:
		CHECK(act->until_ms >= st->at + st->wait_min);
		CHECK(act->until_ms < st->at + st->wait_max);
		break;
	case K8S_ACT_DONE:
		CHECK(act->failed == st->failed);
		break;
	}
}

static void test_scenarios(void **state)
{
	size_t s, i;

	(void)state;
	for (s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct fake_rng rng = { .value = sc->rnd };
		struct k8s_reflector_opts o = { .list_only = sc->list_only,
						.streaming_list = sc->streaming,
						.random = fake_random,
						.random_ctx = &rng };
		struct k8s_reflector r;

		k8s_reflector_init(&r, &o);
		for (i = 0; sc->steps[i].op != OP_END; i++) {
			const struct step *st = &sc->steps[i];
			struct k8s_action act;

			switch (st->op) {
			case OP_START:
				k8s_reflector_start(&r, st->at, &act);
				check_action(sc, i, st, &act);
				break;
			case OP_RESUME:
				k8s_reflector_resume(&r, st->at, &act);
				check_action(sc, i, st, &act);
				break;
			case OP_RESULT:
				k8s_reflector_result(&r, st->at, &st->res, &act);
				check_action(sc, i, st, &act);
				break;
			case OP_OPENED:
				k8s_reflector_watch_opened(&r, st->at);
				break;
			case OP_EVENT:
				CHECK(k8s_reflector_watch_event(&r, st->type, st->ev_rv,
								st->initial_end) == st->want_ret);
				break;
			case OP_END:
				break;
			}
		}
	}
}

/* Streaming: initial events are relist objects and do not move the rv. */
static void test_streaming_initial(void **state)
{
	struct fake_rng rng = { 0 };
	struct k8s_reflector_opts o = { .streaming_list = true,
					.random = fake_random,
					.random_ctx = &rng };
	struct k8s_reflector r;
	struct k8s_action act;

	(void)state;
	k8s_reflector_init(&r, &o);
	k8s_reflector_start(&r, 0, &act);
	assert_true(k8s_reflector_in_initial(&r));
	assert_int_equal(k8s_reflector_watch_event(&r, K8S_EV_ADDED, "40", false), 0);
	assert_string_equal(k8s_reflector_rv(&r), "");
	assert_true(k8s_reflector_in_initial(&r));
	assert_int_equal(k8s_reflector_watch_event(&r, K8S_EV_BOOKMARK, "44", true),
			 K8S_REFLECTOR_INITIAL_END);
	assert_false(k8s_reflector_in_initial(&r));
	assert_string_equal(k8s_reflector_rv(&r), "44");
	/* A second end marker is an ordinary bookmark. */
	assert_int_equal(k8s_reflector_watch_event(&r, K8S_EV_BOOKMARK, "45", true), 0);
	assert_string_equal(k8s_reflector_rv(&r), "45");
}

/* timeoutSeconds over the whole random range stays in [300, 600] and reaches both ends. */
static void test_watch_timeout_range(void **state)
{
	static const uint32_t fixed[] = { 0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff };
	struct fake_rng rng = { 0 };
	struct k8s_reflector_opts o = { .random = fake_random, .random_ctx = &rng };
	struct k8s_reflector r;
	struct k8s_action act;
	struct k8s_result page = { .kind = K8S_RES_OK, .resource_version = "1" };
	unsigned lo = 10000, hi = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 2000; i++) {
		if (i < sizeof(fixed) / sizeof(fixed[0])) {
			rng.lcg = 0;
			rng.value = fixed[i];
		} else {
			rng.lcg = 1;
		}
		k8s_reflector_init(&r, &o);
		k8s_reflector_start(&r, 0, &act);
		k8s_reflector_result(&r, 1, &page, &act);
		assert_int_equal(act.kind, K8S_ACT_WATCH);
		assert_true(act.timeout_s >= 300 && act.timeout_s <= 600);
		if (act.timeout_s < lo)
			lo = act.timeout_s;
		if (act.timeout_s > hi)
			hi = act.timeout_s;
	}
	assert_int_equal(lo, 300);
	assert_int_equal(hi, 600);
}

/*
 * Many failures in a row with random jitter: every wait lies in [d, 2d) for
 * d = min(0.8 s * 2^n, 30 s), and after two quiet minutes d is 0.8 s again.
 */
static void test_backoff_bounds_many_failures(void **state)
{
	struct fake_rng rng = { .lcg = 1, .state = 42 };
	struct k8s_reflector_opts o = { .random = fake_random, .random_ctx = &rng };
	struct k8s_reflector r;
	struct k8s_action act;
	struct k8s_result fail = { .kind = K8S_RES_HTTP, .code = 500 };
	uint64_t now = 0, d = 800, longest = 0;
	int n, round;

	(void)state;
	k8s_reflector_init(&r, &o);
	k8s_reflector_start(&r, now, &act);
	for (round = 0; round < 3; round++) {
		d = 800;
		for (n = 0; n < 40; n++) {
			k8s_reflector_result(&r, now, &fail, &act);
			assert_int_equal(act.kind, K8S_ACT_WAIT);
			assert_true(act.until_ms - now >= d);
			assert_true(act.until_ms - now < 2 * d);
			if (act.until_ms - now > longest)
				longest = act.until_ms - now;
			now = act.until_ms;
			k8s_reflector_resume(&r, now, &act);
			assert_int_equal(act.kind, K8S_ACT_LIST);
			d = d * 2 > 30000 ? 30000 : d * 2;
		}
		now += 120001; /* two quiet minutes */
	}
	assert_true(longest >= 30000 && longest < 60000);
}

/*
 * Found by fuzz_reflector: a result reported while the reflector waits (no
 * request was outstanding) must not hand back a wait that is already over; it
 * acts like resume().
 */
static void test_result_while_waiting(void **state)
{
	struct fake_rng rng = { 0 };
	struct k8s_reflector_opts o = { .random = fake_random, .random_ctx = &rng };
	struct k8s_result fail = { .kind = K8S_RES_HTTP, .code = 500 };
	struct k8s_reflector r;
	struct k8s_action act;

	(void)state;
	k8s_reflector_init(&r, &o);
	k8s_reflector_start(&r, 0, &act);
	k8s_reflector_result(&r, 0, &fail, &act);
	assert_int_equal(act.kind, K8S_ACT_WAIT);
	assert_int_equal(act.until_ms, 800);
	k8s_reflector_result(&r, 500, &fail, &act);
	assert_int_equal(act.kind, K8S_ACT_WAIT);
	assert_int_equal(act.until_ms, 800);
	k8s_reflector_result(&r, 5000, &fail, &act);
	assert_int_equal(act.kind, K8S_ACT_LIST);
	assert_string_equal(act.rv, "0");
	assert_int_equal(act.limit, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_streaming_initial),
		cmocka_unit_test(test_watch_timeout_range),
		cmocka_unit_test(test_backoff_bounds_many_failures),
		cmocka_unit_test(test_result_while_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
