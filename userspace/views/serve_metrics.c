/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus exporter: renders the model as text exposition 0.0.4 and answers scrapes from a thread. */
#include "views/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "model/gcstats.h"

#ifndef PYLEAK_VERSION
#define PYLEAK_VERSION "0.0.0"
#endif

/* ---------------------------------------------------------------------------------------------
 * Rendering
 */

/* A metric family: its HELP/TYPE header is written before its first sample, exactly once. */
struct family {
	const char *name, *type, *help;
	bool started;
};

static void family__begin(struct strbuf *sb, struct family *f)
{
	if (f->started)
		return;
	f->started = true;
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

/* Length of a valid UTF-8 sequence at p (1-4), or 0 if it is not one (overlong and surrogates too). */
static int utf8_len(const unsigned char *p)
{
	int n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void serve__label_value(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int n;

	/* comm and cmdline are whatever bytes the target chose: Prometheus wants UTF-8. */
	while (*p) {
		switch (*p) {
		case '\\': sb_puts(sb, "\\\\"); p++; continue;
		case '"': sb_puts(sb, "\\\""); p++; continue;
		case '\n': sb_puts(sb, "\\n"); p++; continue;
		default: break;
		}
		n = utf8_len(p);
		if (!n) {
			sb_putc(sb, '?');
			p++;
			continue;
		}
		while (n--)
			sb_putc(sb, (char)*p++);
	}
}

void serve__process_labels(struct strbuf *sb, const struct proc_row *row)
{
	const struct py_target *t = &row->target;

	sb_printf(sb, "pid=\"%d\",comm=\"", (int)t->pid);
	serve__label_value(sb, t->comm);
	sb_puts(sb, "\",python=\"");
	serve__label_value(sb, t->version);
	sb_printf(sb, "\",gc_source=\"%s\"", gc_tier__name(t->tier));
	/* Only when known: an empty container_id label would be the same as no label anyway. */
	if (t->container_id[0]) {
		sb_puts(sb, ",container_id=\"");
		serve__label_value(sb, t->container_id);
		sb_putc(sb, '"');
	}
}

/* Floats: the shortest of %.15g/%.17g that reads back as the same double ("1.6e-05", not
 * "1.5999999999999999e-05"): le values must be identical from scrape to scrape and readable. */
static void value_f(struct strbuf *sb, double v)
{
	char buf[40];

	if (v != v)
		sb_puts(sb, "NaN");
	else if (v > 1.7976931348623157e308)
		sb_puts(sb, "+Inf");
	else if (v < -1.7976931348623157e308)
		sb_puts(sb, "-Inf");
	else {
		snprintf(buf, sizeof(buf), "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof(buf), "%.17g", v);
		sb_puts(sb, buf);
	}
}

static void sample_i(struct strbuf *sb, const char *name, const struct proc_row *row, int gen, long long v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	if (gen >= 0)
		sb_printf(sb, ",generation=\"%d\"", gen);
	sb_printf(sb, "} %lld\n", v);
}

static void sample_f(struct strbuf *sb, const char *name, const struct proc_row *row, int gen, double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	if (gen >= 0)
		sb_printf(sb, ",generation=\"%d\"", gen);
	sb_puts(sb, "} ");
	value_f(sb, v);
	sb_putc(sb, '\n');
}

uint64_t serve__bucket_us(int i)
{
	return (uint64_t)SERVE_PAUSE_BUCKET_MIN_US << i;
}

void serve__pause_buckets(const uint32_t *hist, int nslots, uint64_t cum[SERVE_PAUSE_BUCKETS], uint64_t *count)
{
	uint64_t lo, hi;
	int s, b;

	memset(cum, 0, sizeof(uint64_t) * SERVE_PAUSE_BUCKETS);
	*count = 0;
	for (s = 0; s < nslots; s++) {
		if (!hist[s])
			continue;
		*count += hist[s];
		pause_hist__bounds((uint32_t)s, &lo, &hi);
		/* A slot holds pauses in [lo, hi) µs (integer µs, truncated from ns), so all are < hi:
		 * they belong to every bucket whose bound is >= hi. */
		for (b = 0; b < SERVE_PAUSE_BUCKETS; b++)
			if (hi <= serve__bucket_us(b))
				cum[b] += hist[s];
	}
}

static bool row_shown(const struct proc_row *row)
{
	/* Exited rows are kept one refresh by the collector for views that say "exited"; for
	 * Prometheus a vanished series is the signal, so they are not rendered. */
	return !row->exited;
}

static bool row_gc(const struct proc_row *row)
{
	return row_shown(row) && row->gc_valid;
}

static void render_gc_counter(struct strbuf *sb, const struct snapshot *snap, struct family *f, size_t field_off)
{
	int i, g;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];
		const int64_t *v;

		if (!row_gc(row))
			continue;
		v = (const int64_t *)((const char *)row + field_off);
		family__begin(sb, f);
		for (g = 0; g < MODEL_NGEN; g++)
			sample_i(sb, f->name, row, g, (long long)v[g]);
	}
}

static void render_pause_histogram(struct strbuf *sb, const struct snapshot *snap)
{
	struct family f = { .name = "pyleak_gc_pause_seconds", .type = "histogram",
			.help = "GC pause duration per generation, since pyleak attached (kernel log2 histogram; "
			    "on the poll tier only +Inf, with an estimated sum)" };
	uint64_t cum[SERVE_PAUSE_BUCKETS], count;
	int i, g, b;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row) || !row->probes_attached)
			continue;
		family__begin(sb, &f);
		for (g = 0; g < MODEL_NGEN; g++) {
			if (row->pauses_estimated) {
				/* No per-pause durations on the poll tier: counts are exact, times sampled. */
				memset(cum, 0, sizeof(cum));
				count = row->pause[g].count;
			} else {
				serve__pause_buckets(row->pause_hist[g], MODEL_HIST_SLOTS, cum, &count);
			}
			for (b = 0; !row->pauses_estimated && b < SERVE_PAUSE_BUCKETS; b++) {
				sb_puts(sb, "pyleak_gc_pause_seconds_bucket{");
				serve__process_labels(sb, row);
				sb_printf(sb, ",generation=\"%d\",le=\"", g);
				value_f(sb, (double)serve__bucket_us(b) / 1e6);
				sb_printf(sb, "\"} %llu\n", (unsigned long long)cum[b]);
			}
			sb_puts(sb, "pyleak_gc_pause_seconds_bucket{");
			serve__process_labels(sb, row);
			sb_printf(sb, ",generation=\"%d\",le=\"+Inf\"} %llu\n", g, (unsigned long long)count);
			sample_f(sb, "pyleak_gc_pause_seconds_sum", row, g, (double)row->pause[g].sum_us / 1e6);
			sample_i(sb, "pyleak_gc_pause_seconds_count", row, g, (long long)count);
		}
	}
}

static bool row_censused(const struct proc_row *row)
{
	return row_shown(row) && row->census_time > 0;
}

static bool type_is_suspect(const struct proc_row *row, const char *name)
{
	for (int i = 0; i < row->nsuspects; i++)
		if (row->suspects[i].kind == SUSPECT_TYPE && !strcmp(row->suspects[i].name, name))
			return true;
	return false;
}

/*
 * Which type rows of a process get series: the top_types largest (the model keeps them by
 * count), plus the suspect types among the rest (at most MODEL_MAX_SUSPECTS more). So the label
 * set per process is bounded by top_types + 16 whatever the heap holds.
 */
static bool type_exported(const struct proc_row *row, int i, int top)
{
	return i < top || type_is_suspect(row, row->types[i].name);
}

static void type_sample(struct strbuf *sb, const char *name, const struct proc_row *row, const char *type, double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	sb_puts(sb, ",type=\"");
	serve__label_value(sb, type);
	sb_puts(sb, "\"} ");
	value_f(sb, v);
	sb_putc(sb, '\n');
}

void serve_render_types(struct strbuf *sb, const struct snapshot *snap, const struct serve_render_opts *opts)
{
	struct family f_live = { .name = "pyleak_live_objects", .type = "gauge",
			.help = "GC-tracked objects counted by the last census of the process." };
	struct family f_cnt = { .name = "pyleak_type_live_objects", .type = "gauge",
			.help = "Live GC-tracked objects of a type at the last census (the top types per process "
			    "by count, and every leak-suspect type)." };
	struct family f_bytes = { .name = "pyleak_type_live_bytes", .type = "gauge",
			.help = "Shallow bytes of the live objects of a type at the last census." };
	struct family f_rate = { .name = "pyleak_type_growth_per_minute", .type = "gauge",
			.help = "Change of a type's live count per minute (Theil-Sen slope over the census window)." };
	int top = opts && opts->top_types > 0 ? opts->top_types : 0;
	int i, k;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_censused(row) || row->live_objects < 0)
			continue;
		family__begin(sb, &f_live);
		sample_i(sb, f_live.name, row, -1, (long long)row->live_objects);
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		for (k = 0; row_censused(row) && k < row->ntypes; k++) {
			if (!type_exported(row, k, top))
				continue;
			family__begin(sb, &f_cnt);
			type_sample(sb, f_cnt.name, row, row->types[k].name, (double)row->types[k].count);
		}
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		for (k = 0; row_censused(row) && k < row->ntypes; k++) {
			if (!type_exported(row, k, top))
				continue;
			family__begin(sb, &f_bytes);
			type_sample(sb, f_bytes.name, row, row->types[k].name, (double)row->types[k].bytes);
		}
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		for (k = 0; row_censused(row) && k < row->ntypes; k++) {
			if (!type_exported(row, k, top))
				continue;
			family__begin(sb, &f_rate);
			type_sample(sb, f_rate.name, row, row->types[k].name, row->types[k].per_min);
		}
	}
}

static void suspect_sample(struct strbuf *sb, const char *name, const struct proc_row *row, const struct suspect *s,
			   double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	sb_printf(sb, ",kind=\"%s\",name=\"", suspect_kind__name(s->kind));
	serve__label_value(sb, s->name);
	sb_puts(sb, "\"} ");
	value_f(sb, v);
	sb_putc(sb, '\n');
}

/*
 * Leak verdicts: a count per process (0 once the process is watched, so `> 0` alerts work and
 * recover), and one flag series per suspect with its growth. At most MODEL_MAX_SUSPECTS per
 * process; names are type names, holder names or "gc.garbage"/"rss".
 */
void serve_render_suspects(struct strbuf *sb, const struct snapshot *snap, const struct serve_render_opts *opts)
{
	struct family f_n = { .name = "pyleak_leak_suspects", .type = "gauge",
			.help = "Leak suspects of the process now (types, containers, gc.garbage, RSS)." };
	struct family f_flag = { .name = "pyleak_leak_suspect", .type = "gauge",
			.help = "1 for each current leak suspect: kind (type, container, garbage, rss) and name." };
	struct family f_rate = { .name = "pyleak_leak_suspect_growth_per_minute", .type = "gauge",
			.help = "Growth of a leak suspect per minute: objects, items, or bytes for kind rss." };
	struct family f_conf = { .name = "pyleak_leak_suspect_confidence", .type = "gauge",
			.help = "Mann-Kendall confidence (0-1) of a leak suspect's growth." };
	int i, k;

	(void)opts;
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row))
			continue;
		family__begin(sb, &f_n);
		sample_i(sb, f_n.name, row, -1, row->nsuspects);
	}
	for (i = 0; i < snap->nrows; i++)
		for (k = 0; row_gc(snap->rows[i]) && k < snap->rows[i]->nsuspects; k++) {
			family__begin(sb, &f_flag);
			suspect_sample(sb, f_flag.name, snap->rows[i], &snap->rows[i]->suspects[k], 1);
		}
	for (i = 0; i < snap->nrows; i++)
		for (k = 0; row_gc(snap->rows[i]) && k < snap->rows[i]->nsuspects; k++) {
			family__begin(sb, &f_rate);
			suspect_sample(sb, f_rate.name, snap->rows[i], &snap->rows[i]->suspects[k],
				       snap->rows[i]->suspects[k].per_min);
		}
	for (i = 0; i < snap->nrows; i++)
		for (k = 0; row_gc(snap->rows[i]) && k < snap->rows[i]->nsuspects; k++) {
			family__begin(sb, &f_conf);
			suspect_sample(sb, f_conf.name, snap->rows[i], &snap->rows[i]->suspects[k],
				       snap->rows[i]->suspects[k].confidence);
		}
}

void serve__render_scrapes(struct strbuf *sb, uint64_t scrapes)
{
	sb_printf(sb,
		  "# HELP pyleak_scrapes_total Scrapes of /metrics answered, this one included.\n"
		  "# TYPE pyleak_scrapes_total counter\n"
		  "pyleak_scrapes_total %llu\n",
		  (unsigned long long)scrapes);
}

void serve__render(struct strbuf *sb, const struct snapshot *snap, const struct serve_stats *st,
		   const struct serve_render_opts *opts)
{
	struct family f_rss = { .name = "pyleak_process_resident_memory_bytes", .type = "gauge",
			.help = "Resident set size of the Python process." };
	struct family f_coll = { .name = "pyleak_gc_collections_total", .type = "counter",
			.help = "Collections per generation since the process started (gc.get_stats())." };
	struct family f_cted = { .name = "pyleak_gc_collected_total", .type = "counter",
			.help = "Objects collected per generation since the process started (gc.get_stats())." };
	struct family f_unc = { .name = "pyleak_gc_uncollectable_total", .type = "counter",
			.help = "Uncollectable objects per generation since the process started (gc.get_stats())." };
	struct family f_garb = { .name = "pyleak_gc_garbage_objects", .type = "gauge",
			.help = "Length of gc.garbage." };
	struct family f_en = { .name = "pyleak_gc_enabled", .type = "gauge",
			.help = "1 when automatic collection is enabled (gc.isenabled())." };
	struct family f_thr = { .name = "pyleak_gc_threshold", .type = "gauge",
			.help = "Collection thresholds per generation (gc.get_threshold())." };
	struct family f_time = { .name = "pyleak_gc_time_seconds_total", .type = "counter",
			.help = "Time spent in GC since pyleak attached (estimated on the poll tier)." };
	struct family f_est = { .name = "pyleak_gc_pauses_estimated", .type = "gauge",
			.help = "1 when pause times are estimated by sampling (poll tier: no GC probes in this build)." };
	int i, nshown = 0;

	for (i = 0; i < snap->nrows; i++)
		nshown += row_shown(snap->rows[i]);

	sb_printf(sb,
		  "# HELP pyleak_build_info pyleak build; the value is always 1.\n"
		  "# TYPE pyleak_build_info gauge\n"
		  "pyleak_build_info{version=\"%s\"} 1\n"
		  "# HELP pyleak_processes Python processes observed.\n"
		  "# TYPE pyleak_processes gauge\n"
		  "pyleak_processes %d\n"
		  "# HELP pyleak_collector_refreshes_total Collector refreshes since pyleak started.\n"
		  "# TYPE pyleak_collector_refreshes_total counter\n"
		  "pyleak_collector_refreshes_total %llu\n"
		  "# HELP pyleak_collector_refresh_seconds Duration of the last collector refresh.\n"
		  "# TYPE pyleak_collector_refresh_seconds gauge\n"
		  "pyleak_collector_refresh_seconds ",
		  PYLEAK_VERSION, nshown, (unsigned long long)st->refreshes);
	value_f(sb, st->refresh_seconds);
	sb_puts(sb, "\n# HELP pyleak_collector_last_refresh_timestamp_seconds Wall clock of the last collector refresh.\n"
		    "# TYPE pyleak_collector_last_refresh_timestamp_seconds gauge\n"
		    "pyleak_collector_last_refresh_timestamp_seconds ");
	sb_printf(sb, "%.3f\n", st->last_refresh_time);
	sb_printf(sb,
		  "# HELP pyleak_dropped_events_total GC events lost because the kernel ring buffer was full.\n"
		  "# TYPE pyleak_dropped_events_total counter\n"
		  "pyleak_dropped_events_total %llu\n",
		  (unsigned long long)snap->dropped_events);

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_shown(row))
			continue;
		family__begin(sb, &f_rss);
		sample_i(sb, f_rss.name, row, -1, (long long)row->rss);
	}
	render_gc_counter(sb, snap, &f_coll, offsetof(struct proc_row, collections));
	render_gc_counter(sb, snap, &f_cted, offsetof(struct proc_row, collected));
	render_gc_counter(sb, snap, &f_unc, offsetof(struct proc_row, uncollectable));
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row) || row->garbage < 0)
			continue;
		family__begin(sb, &f_garb);
		sample_i(sb, f_garb.name, row, -1, (long long)row->garbage);
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row))
			continue;
		family__begin(sb, &f_en);
		sample_i(sb, f_en.name, row, -1, row->enabled ? 1 : 0);
	}
	render_gc_counter(sb, snap, &f_thr, offsetof(struct proc_row, thresholds));
	render_pause_histogram(sb, snap);
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row) || !row->probes_attached)
			continue;
		family__begin(sb, &f_time);
		sample_f(sb, f_time.name, row, -1, (double)row->gc_ns_total / 1e9);
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row))
			continue;
		family__begin(sb, &f_est);
		sample_i(sb, f_est.name, row, -1, row->pauses_estimated ? 1 : 0);
	}
	serve_render_types(sb, snap, opts);
	serve_render_suspects(sb, snap, opts);
}

/* ---------------------------------------------------------------------------------------------
 * Listen address
 */

int serve_addr__parse(const char *s, struct serve_addr *out)
{
	char host[64];
	const char *port_s = NULL, *end;
	long port = SERVE_DEFAULT_PORT;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	bool v6 = false;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - s - 1);
		v6 = true;
		if (end[1] == ':')
			port_s = end + 2;
		else if (end[1])
			return -EINVAL;
		s++;
	} else {
		end = strrchr(s, ':');
		if (end && strchr(s, ':') != end)
			return -EINVAL; /* a bare IPv6 address: its port would be ambiguous, want [..] */
		n = end ? (size_t)(end - s) : strlen(s);
		if (end)
			port_s = end + 1;
	}
	/* An empty host (":9464") would mean every interface: say so explicitly instead. */
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (port_s && parse_long(port_s, 0, 65535, &port))
		return -EINVAL;

	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		out->len = sizeof(*sin6);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
				(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127);
		copy_str(out->host, sizeof(out->host), host);
		snprintf(out->text, sizeof(out->text), "[%s]:%ld", host, port);
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "localhost"))
		copy_str(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -EINVAL;
	out->len = sizeof(*sin);
	out->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	copy_str(out->host, sizeof(out->host), host);
	snprintf(out->text, sizeof(out->text), "%s:%ld", host, port);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Server: one thread, poll() over the listening socket, a wake-up eventfd and the clients.
 * The collector never waits for a client: it renders into its own buffer and swaps it in
 * under `lock`; each answer is a private copy made under the same lock.
 */

enum client_state { CLIENT_FREE = 0, CLIENT_READING, CLIENT_WRITING };

struct client {
	int fd;
	enum client_state state;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	uint64_t accepted_ns;
	char req[SERVE_MAX_REQUEST + 1];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
};

struct serve_server {
	int listen_fd, wake_fd, port;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	struct strbuf front; /* the exposition answered (under lock) */
	uint64_t scrapes;    /* under lock */
	struct client clients[SERVE_MAX_CLIENTS];
};

int serve_server__open(const struct serve_addr *addr, struct serve_server **out)
{
	struct serve_server *srv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, err, i;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->listen_fd = srv->wake_fd = -1;
	for (i = 0; i < SERVE_MAX_CLIENTS; i++)
		srv->clients[i].fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	sb_init(&srv->front);

	srv->listen_fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0) {
		err = -errno;
		pr_err("cannot create a socket for %s: %s", addr->text, strerror(-err));
		goto cleanup;
	}
	setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss.ss_family == AF_INET6)
		setsockopt(srv->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(srv->listen_fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		err = -errno;
		pr_err("cannot listen on %s: %s%s", addr->text, strerror(-err),
		       err == -EADDRINUSE ? " (another exporter running? pick a port with --listen)" : "");
		goto cleanup;
	}
	if (listen(srv->listen_fd, 128) < 0) {
		err = -errno;
		pr_err("cannot listen on %s: %s", addr->text, strerror(-err));
		goto cleanup;
	}
	if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) < 0) {
		err = -errno;
		pr_err("cannot read the address of %s: %s", addr->text, strerror(-err));
		goto cleanup;
	}
	srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->wake_fd < 0) {
		err = -errno;
		pr_err("cannot create an eventfd: %s", strerror(-err));
		goto cleanup;
	}
	*out = srv;
	return 0;
cleanup:
	serve_server__free(srv);
	return err;
}

int serve_server__port(const struct serve_server *srv)
{
	return srv->port;
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->resp);
	cl->fd = -1;
	cl->resp = NULL;
	cl->state = CLIENT_FREE;
	cl->req_len = cl->resp_len = cl->resp_off = 0;
}

static void client_respond(struct serve_server *srv, struct client *cl, int status, const char *reason,
			   const char *ctype, bool head, const char *body, size_t body_len, bool with_scrapes)
{
	struct strbuf tail, hdr;
	uint64_t scrapes = 0;
	char *resp;
	size_t n;

	sb_init(&tail);
	sb_init(&hdr);
	if (with_scrapes) {
		pthread_mutex_lock(&srv->lock);
		scrapes = ++srv->scrapes;
		body = srv->front.buf ? srv->front.buf : "";
		body_len = srv->front.len;
		serve__render_scrapes(&tail, scrapes);
		n = body_len + tail.len;
		sb_printf(&hdr,
			  "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, ctype, n);
		resp = hdr.oom || tail.oom ? NULL : malloc(hdr.len + (head ? 0 : n) + 1);
		if (resp) {
			memcpy(resp, hdr.buf, hdr.len);
			if (!head) {
				memcpy(resp + hdr.len, body, body_len);
				memcpy(resp + hdr.len + body_len, tail.buf, tail.len);
			}
		}
		pthread_mutex_unlock(&srv->lock);
	} else {
		n = body_len;
		sb_printf(&hdr,
			  "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, ctype, n);
		resp = hdr.oom ? NULL : malloc(hdr.len + (head ? 0 : n) + 1);
		if (resp) {
			memcpy(resp, hdr.buf, hdr.len);
			if (!head)
				memcpy(resp + hdr.len, body, body_len);
		}
	}
	if (!resp) {
		client_close(cl);
	} else {
		cl->resp = resp;
		cl->resp_len = hdr.len + (head ? 0 : n);
		cl->resp_off = 0;
		cl->state = CLIENT_WRITING;
		cl->deadline_ns = now_mono_ns() + SERVE_WRITE_TIMEOUT_MS * 1000000ull;
	}
	sb_free(&tail);
	sb_free(&hdr);
}

static const char index_html[] = "<!DOCTYPE html>\n<html><head><title>pyleak exporter</title></head><body>\n"
				 "<h1>pyleak exporter</h1>\n<p><a href=\"/metrics\">/metrics</a></p>\n"
				 "</body></html>\n";

/* Requests are tiny: the request line decides; headers are read (to the blank line) only so that
 * closing the socket does not reset it while the client still sends them. */
static void client_request(struct serve_server *srv, struct client *cl)
{
	char method[16], path[256], *line_end, *sp1, *sp2;
	const char *q;
	size_t n;
	bool head;

	line_end = strpbrk(cl->req, "\r\n");
	sp1 = line_end ? memchr(cl->req, ' ', (size_t)(line_end - cl->req)) : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
	if (!sp1 || (size_t)(sp1 - cl->req) >= sizeof(method)) {
		client_respond(srv, cl, 400, "Bad Request", "text/plain; charset=utf-8", false, "bad request\n", 12,
			       false);
		return;
	}
	n = (size_t)(sp1 - cl->req);
	memcpy(method, cl->req, n);
	method[n] = '\0';
	if (!sp2)
		sp2 = line_end; /* HTTP/0.9 style "GET /metrics" */
	n = (size_t)(sp2 - sp1 - 1);
	if (n >= sizeof(path)) {
		client_respond(srv, cl, 414, "URI Too Long", "text/plain; charset=utf-8", false, "uri too long\n", 13,
			       false);
		return;
	}
	memcpy(path, sp1 + 1, n);
	path[n] = '\0';
	q = strchr(path, '?');
	if (q)
		path[q - path] = '\0';
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		client_respond(srv, cl, 405, "Method Not Allowed", "text/plain; charset=utf-8", false,
			       "method not allowed\n", 19, false);
		return;
	}
	if (!strcmp(path, "/metrics"))
		client_respond(srv, cl, 200, "OK", SERVE_CONTENT_TYPE, head, NULL, 0, true);
	else if (!strcmp(path, "/"))
		client_respond(srv, cl, 200, "OK", "text/html; charset=utf-8", head, index_html,
			       sizeof(index_html) - 1, false);
	else
		client_respond(srv, cl, 404, "Not Found", "text/plain; charset=utf-8", head, "not found\n", 10, false);
}

static void client_read(struct serve_server *srv, struct client *cl)
{
	ssize_t r;

	r = read(cl->fd, cl->req + cl->req_len, SERVE_MAX_REQUEST - cl->req_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(cl);
		return;
	}
	cl->req_len += (size_t)r;
	cl->req[cl->req_len] = '\0';
	if (memchr(cl->req, '\0', cl->req_len)) {
		client_close(cl); /* binary junk: not HTTP */
		return;
	}
	if (strstr(cl->req, "\r\n\r\n") || strstr(cl->req, "\n\n")) {
		client_request(srv, cl);
		return;
	}
	if (cl->req_len >= SERVE_MAX_REQUEST)
		client_respond(srv, cl, 431, "Request Header Fields Too Large", "text/plain; charset=utf-8", false,
			       "request too large\n", 18, false);
}

static void client_write(struct client *cl)
{
	ssize_t w;

	while (cl->resp_off < cl->resp_len) {
		/* MSG_NOSIGNAL: EPIPE instead of SIGPIPE even if someone restored its default. */
		w = send(cl->fd, cl->resp + cl->resp_off, cl->resp_len - cl->resp_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) { /* EPIPE/ECONNRESET: the scraper went away */
			client_close(cl);
			return;
		}
		cl->resp_off += (size_t)w;
	}
	shutdown(cl->fd, SHUT_WR);
	client_close(cl);
}

static void accept_clients(struct serve_server *srv)
{
	struct client *cl, *oldest;
	int fd, i;

	for (;;) {
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE, ECONNABORTED): poll tells us again */
		cl = NULL;
		oldest = NULL;
		for (i = 0; i < SERVE_MAX_CLIENTS; i++) {
			if (srv->clients[i].state == CLIENT_FREE) {
				cl = &srv->clients[i];
				break;
			}
			if (srv->clients[i].state == CLIENT_READING &&
			    (!oldest || srv->clients[i].accepted_ns < oldest->accepted_ns))
				oldest = &srv->clients[i];
		}
		if (!cl && oldest) {
			/* Full of connections that send nothing (slow loris): the oldest gives way. */
			client_close(oldest);
			cl = oldest;
		}
		if (!cl) {
			close(fd); /* every slot is busy writing: the scraper retries */
			continue;
		}
		cl->fd = fd;
		cl->state = CLIENT_READING;
		cl->accepted_ns = now_mono_ns();
		cl->deadline_ns = cl->accepted_ns + SERVE_READ_TIMEOUT_MS * 1000000ull;
		cl->req_len = 0;
	}
}

static void *server_main(void *arg)
{
	struct serve_server *srv = arg;
	struct pollfd pfd[SERVE_MAX_CLIENTS + 2];
	int idx[SERVE_MAX_CLIENTS + 2];
	int n, i, r;
	uint64_t now;

	while (!exiting) {
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = srv->wake_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
		for (i = 0; i < SERVE_MAX_CLIENTS; i++) {
			struct client *cl = &srv->clients[i];

			if (cl->state == CLIENT_FREE)
				continue;
			idx[n] = i;
			pfd[n++] = (struct pollfd){ .fd = cl->fd, .events = cl->state == CLIENT_READING ? POLLIN : POLLOUT };
		}
		/* 250 ms: the granularity of the per-client timeouts. */
		r = poll(pfd, (nfds_t)n, 250);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && pfd[0].revents)
			break; /* serve_server__free() woke us */
		for (i = 2; r > 0 && i < n; i++) {
			struct client *cl = &srv->clients[idx[i]];

			if (!pfd[i].revents)
				continue;
			if (cl->state == CLIENT_READING)
				client_read(srv, cl);
			if (cl->state == CLIENT_WRITING)
				client_write(cl);
			else if (cl->state != CLIENT_FREE && (pfd[i].revents & (POLLERR | POLLNVAL)))
				client_close(cl);
		}
		if (r > 0 && pfd[1].revents)
			accept_clients(srv);
		now = now_mono_ns();
		for (i = 0; i < SERVE_MAX_CLIENTS; i++)
			if (srv->clients[i].state != CLIENT_FREE && now >= srv->clients[i].deadline_ns)
				client_close(&srv->clients[i]);
	}
	return NULL;
}

int serve_server__start(struct serve_server *srv)
{
	sigset_t block, old;
	int err;

	/* Signals go to the collector thread: its waits return EINTR and see `exiting` at once. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = -pthread_create(&srv->thread, NULL, server_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("cannot start the server thread: %s", strerror(-err));
		return err;
	}
	srv->started = true;
	return 0;
}

void serve_server__publish(struct serve_server *srv, struct strbuf *body)
{
	struct strbuf tmp;

	pthread_mutex_lock(&srv->lock);
	tmp = srv->front;
	srv->front = *body;
	*body = tmp;
	pthread_mutex_unlock(&srv->lock);
}

uint64_t serve_server__scrapes(struct serve_server *srv)
{
	uint64_t n;

	pthread_mutex_lock(&srv->lock);
	n = srv->scrapes;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

void serve_server__free(struct serve_server *srv)
{
	uint64_t one = 1;
	int i;

	if (!srv)
		return;
	if (srv->started) {
		if (write(srv->wake_fd, &one, sizeof(one)) < 0)
			pr_debug("cannot wake the server thread: %s", strerror(errno));
		pthread_join(srv->thread, NULL);
	}
	for (i = 0; i < SERVE_MAX_CLIENTS; i++)
		if (srv->clients[i].state != CLIENT_FREE)
			client_close(&srv->clients[i]);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	sb_free(&srv->front);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
