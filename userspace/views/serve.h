/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus exporter: the exposition-format renderer of the model and the scrape HTTP server. */
#ifndef PYLEAK_SERVE_H
#define PYLEAK_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/common.h"
#include "model/model.h"

#define SERVE_DEFAULT_PORT	 9464 /* the port registered for OpenTelemetry/Prometheus exporters */
#define SERVE_MAX_REQUEST	 8192 /* bytes of request line + headers we accept */
#define SERVE_MAX_CLIENTS	 64   /* concurrent connections; the oldest idle reader is evicted */
#define SERVE_READ_TIMEOUT_MS	 3000 /* a client has this long to send its request */
#define SERVE_WRITE_TIMEOUT_MS	 10000 /* ... and this long to take the answer */
#define SERVE_DEFAULT_TOP_TYPES	 10
#define SERVE_CONTENT_TYPE	 "text/plain; version=0.0.4; charset=utf-8"

/*
 * Pause histogram bucket bounds (le) in microseconds: powers of two from 16 µs to 8.39 s.
 * Bounded on purpose (21 series per process and generation with +Inf) and aligned with the
 * kernel's log2 slots (bpf/gc.h), whose boundaries at powers of two are exact.
 */
#define SERVE_PAUSE_BUCKETS	 20
#define SERVE_PAUSE_BUCKET_MIN_US 16

/* Figures about the exporter itself, rendered with the snapshot. */
struct serve_stats {
	uint64_t refreshes;	  /* collector refreshes so far */
	double refresh_seconds;	  /* how long the last refresh took */
	double last_refresh_time; /* wall clock of the last refresh, seconds since the epoch */
};

struct serve_render_opts {
	int top_types; /* label cardinality bound for per-type families (--top-types) */
};

/* Parsed --listen address. */
struct serve_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool loopback; /* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104 */
	char host[64]; /* numeric host, without brackets */
	char text[80]; /* normalised "host:port" / "[v6]:port" for messages */
};

/*
 * Parse "host:port", "[v6]:port", "host" (port 9464) or "[v6]"; host is a numeric address or
 * "localhost" (127.0.0.1: no resolver, so no DNS lookups and no surprises).  Port 0 asks the
 * kernel for a free one.  0 or -EINVAL.
 */
int serve_addr__parse(const char *s, struct serve_addr *out);

/*
 * Render the whole exposition (text format 0.0.4) for a snapshot: every family once with its
 * HELP and TYPE, process series labelled pid/comm/python/gc_source[/container_id]; exited rows
 * are left out, so their series disappear.  The scrape counter is not in here: the server adds
 * it per scrape (serve__render_scrapes).  sb->oom tells an allocation failure.
 */
void serve__render(struct strbuf *sb, const struct snapshot *snap, const struct serve_stats *st,
		   const struct serve_render_opts *opts);
void serve__render_scrapes(struct strbuf *sb, uint64_t scrapes);

/*
 * Hooks for the families later features fill in; both render nothing yet.
 * serve_render_types: allocation rates of the top opts->top_types types per process (census).
 * serve_render_suspects: leak suspect flags per process (leak verdicts).
 * Each must emit whole families (HELP, TYPE, then every sample) and keep label values escaped
 * with serve__label_value().
 */
void serve_render_types(struct strbuf *sb, const struct snapshot *snap, const struct serve_render_opts *opts);
void serve_render_suspects(struct strbuf *sb, const struct snapshot *snap, const struct serve_render_opts *opts);

/* serve_groups.c: the pyleak_group_* families (docs/prometheus.md), nothing without families. */
void serve_render_groups(struct strbuf *sb, const struct snapshot *snap);

/* A label value without quotes: esc_prom (util/escape.h), the visible escapes of the text outputs,
 * then \\ and \" quoted: always printable UTF-8. */
void serve__label_value(struct strbuf *sb, const char *s);
/* The identity labels of a process, without braces: pid="1",comm="x",python="3.11.2",... */
void serve__process_labels(struct strbuf *sb, const struct proc_row *row);

/* Bucket bound i (0..SERVE_PAUSE_BUCKETS-1) in microseconds. */
uint64_t serve__bucket_us(int i);
/*
 * Sum the kernel's slots into cumulative buckets: cum[i] = pauses known to be <= bound i
 * (a slot counts in the first bucket whose bound >= the slot's upper end, so bucket counts
 * never overstate); *count = all pauses (the +Inf bucket).
 */
void serve__pause_buckets(const uint32_t *hist, int nslots, uint64_t cum[SERVE_PAUSE_BUCKETS], uint64_t *count);

/* The HTTP side (serve_http.c, with serve_addr__parse): one thread answering scrapes from the
 * last published exposition.  The rest of this header is the renderer, serve_metrics.c. */
struct serve_server;

/* Bind and listen (no thread yet).  0 or -errno, with a message. */
int serve_server__open(const struct serve_addr *addr, struct serve_server **out);
/* The bound port (useful with port 0). */
int serve_server__port(const struct serve_server *srv);
/* Start the server thread (SIGINT/SIGTERM/SIGHUP stay with the calling thread). */
int serve_server__start(struct serve_server *srv);
/*
 * Make body the exposition answered from now on: swapped with the server's copy under its
 * mutex, so *body comes back holding the previous text (reset it and render into it again).
 */
void serve_server__publish(struct serve_server *srv, struct strbuf *body);
uint64_t serve_server__scrapes(struct serve_server *srv);
/* Stop the thread, close every socket, free.  NULL is fine. */
void serve_server__free(struct serve_server *srv);

#endif /* PYLEAK_SERVE_H */
