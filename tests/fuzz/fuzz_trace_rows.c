/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: a valid trace schema with fuzzed rows and values, through every loader and output. */
/*
 * fuzz_trace mutates whole files, and SQLite rejects nearly every mutation of its own format
 * before pyleak's loaders run. Here the file is always a valid trace (the recorder's own schema
 * and meta, made once by recorder__open) and the input decides the rows: which table, and for
 * each column NULL, an integer (small, so ids and generations meet), any 64-bit integer, a real
 * (NaN, inf, huge) or text/blob bytes (control characters, invalid UTF-8, no NUL). Then
 * trace__load, report__write in every format, and top --replay (replay__new, every snapshot
 * through view_text and view_json), which is every path a shared recording takes.
 *
 * Checks besides the sanitizers: text, csv and collapsed reports carry no raw control byte other
 * than the line and cell structure, no bidi override, only valid UTF-8; json and chrome reports
 * are ASCII without controls; the replayed JSON lines too.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/source.h"
#include "trace/record.h"
#include "trace/replay.h"
#include "trace/report.h"
#include "trace/trace.h"
#include "util/escape.h"
#include "views/views.h"

static char path[64];
static uint8_t *tmpl;
static size_t tmpl_len;

struct table {
	const char *name;
	int ncols;
	const char *insert;
};

static const struct table tables[] = {
	{ "processes", 14, "INSERT OR REPLACE INTO processes VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)" },
	{ "samples", 34, "INSERT INTO samples VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)" },
	{ "pause_hist", 6, "INSERT OR REPLACE INTO pause_hist VALUES(?,?,?,?,?,?)" },
	{ "gc_events", 10, "INSERT INTO gc_events VALUES(?,?,?,?,?,?,?,?,?,?)" },
	{ "types", 5, "INSERT INTO types VALUES(?,?,?,?,?)" },
	{ "containers", 6, "INSERT INTO containers VALUES(?,?,?,?,?,?)" },
	{ "suspects", 7, "INSERT INTO suspects VALUES(?,?,?,?,?,?,?)" },
	{ "sites", 5, "INSERT INTO sites VALUES(?,?,?,?,?)" },
	{ "survivors", 7, "INSERT INTO survivors VALUES(?,?,?,?,?,?,?)" },
	{ "meta", 2, "INSERT OR REPLACE INTO meta VALUES(?,?)" },
};

static const char *const meta_keys[] = {
	"format", "schema_version", "host", "kernel", "pyleak_version", "command_line", "start_time", "end_time",
	"interval_s", "max_size", "dropped_gc_events", "ringbuf_dropped_events", "complete", "pause_hist",
};

/* Rows every input may start from (first byte odd): two processes with samples, events and every
 * auxiliary table, so the fuzzer's rows meet populated loaders at once. */
static const char baseline_sql[] =
	"INSERT INTO processes VALUES(1,100,1100,5000,'py\x1b[31m','python3 app.py','/usr/bin/python3','3.11.2',"
	" 'usdt',NULL,1700000001,1700000004,0,NULL);"
	"INSERT INTO processes VALUES(2,200,200,6000,'worker','w','/w','3.12.1','poll','abc',1700000001,1700000003,1,'n');"
	"INSERT INTO samples VALUES(1,1700000001,1000000,1,1,0,0,10,0,0,0,0,0,0,1,700,10,10,3,1,0,1.5,100,0,1,0,0,100,0,0,"
	" 100,0,0,500);"
	"INSERT INTO samples VALUES(1,1700000002,2000000,1,5,1,0,50,5,0,0,0,1,2,1,700,10,10,4,2,1,2.5,300,0,5,1,0,300,"
	" 40,0,120,40,0,900);"
	"INSERT INTO samples VALUES(2,1700000002,3000000,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,-1,NULL,NULL,"
	" NULL,NULL,NULL,NULL,NULL,0,0,1,NULL,NULL,NULL,NULL,NULL,NULL,-1,-1,-1,-1);"
	"INSERT INTO pause_hist VALUES(1,0,20,64,128,5);"
	"INSERT INTO pause_hist VALUES(1,2,48,1000,NULL,1);"
	"INSERT INTO gc_events VALUES(1,100,100,1700000001.5,5000000000,0,120.5,42,0,'usdt');"
	"INSERT INTO gc_events VALUES(1,100,101,1700000001.6,5001000000,2,9000,10,3,'usdt');"
	"INSERT INTO types VALUES(1,1700000001,'dict',100,6400);"
	"INSERT INTO types VALUES(1,1700000002,'dict',200,12800);"
	"INSERT INTO containers VALUES(1,1700000002,'__main__.cache','dict',50,NULL);"
	"INSERT INTO suspects VALUES(1,1700000002,'type','dict',600,0.9,'grows');"
	"INSERT INTO sites VALUES(1,1700000002,'a.py:1 <module>;a.py:9 f',7,100);"
	"INSERT INTO survivors VALUES(1,1700000002,'__main__.R\x1b]0;t\x07','a.py:1 <module>;a.py:9 f',5,3,2);"
	"INSERT INTO survivors VALUES(1,1700000002,NULL,'[truncated];b\\;c.py:? g\xe2\x80\xae',2,1,-1);"
	"UPDATE meta SET value='1700000005' WHERE key='start_time';"
	"INSERT OR REPLACE INTO meta VALUES('end_time','1700000004');";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct recorder_opts o = { .path = path, .force = true, .command_line = "pyleak record -o fuzz.db",
				   .interval_s = 1, .start_time = 1700000000.0, .quiet = true };
	struct recorder *r;
	FILE *f;
	int fd;

	(void)argc;
	(void)argv;
	verbosity = 0;
	snprintf(path, sizeof(path), "/tmp/pyleak-fuzz-rows-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	if (recorder__open(&o, &r) || recorder__close(r))
		abort();
	f = fopen(path, "rb");
	if (!f)
		abort();
	fseek(f, 0, SEEK_END);
	tmpl_len = (size_t)ftell(f);
	rewind(f);
	tmpl = malloc(tmpl_len);
	if (!tmpl || fread(tmpl, 1, tmpl_len, f) != tmpl_len)
		abort();
	fclose(f);
	return 0;
}

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static void bind_value(sqlite3_stmt *st, int col, int table, struct input *in)
{
	uint8_t kind = take(in);
	uint64_t v = 0;
	double d;
	size_t len;

	if (table == 8 && col == 1) { /* meta key: mostly one the reader knows */
		uint8_t k = take(in);

		if (k < 240) {
			sqlite3_bind_text(st, col, meta_keys[k % (sizeof(meta_keys) / sizeof(meta_keys[0]))], -1, SQLITE_STATIC);
			return;
		}
		kind = 4;
	}
	switch (kind % 6) {
	case 0:
		sqlite3_bind_null(st, col);
		break;
	case 1: /* small: process ids, generations, slots meet each other */
		sqlite3_bind_int64(st, col, (int8_t)take(in));
		break;
	case 2:
		for (int i = 0; i < 8; i++)
			v = v << 8 | take(in);
		sqlite3_bind_int64(st, col, (sqlite3_int64)v);
		break;
	case 3: {
		static const double specials[] = { 0, -1, 1e300, -1e300, 1700000000.5, 1e-300, NAN, INFINITY, -INFINITY };
		uint8_t s = take(in);

		if (s < 128) {
			d = specials[s % (sizeof(specials) / sizeof(specials[0]))];
		} else {
			uint64_t u = 0;

			for (int i = 0; i < 8; i++)
				u = u << 8 | take(in);
			memcpy(&d, &u, sizeof(d));
		}
		sqlite3_bind_double(st, col, d);
		break;
	}
	case 4:
	case 5:
		len = take(in);
		if (len > in->n)
			len = in->n;
		if (kind % 6 == 4)
			sqlite3_bind_text(st, col, (const char *)in->p, (int)len, SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(st, col, in->p, (int)len, SQLITE_TRANSIENT);
		in->p += len;
		in->n -= len;
		break;
	}
}

static int build(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	sqlite3_stmt *st[sizeof(tables) / sizeof(tables[0])] = { 0 };
	sqlite3 *db;
	FILE *f;
	int rows = 0;

	f = fopen(path, "wb");
	if (!f || fwrite(tmpl, 1, tmpl_len, f) != tmpl_len)
		abort();
	fclose(f);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		abort();
	sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL);
	if (take(&in) & 1)
		sqlite3_exec(db, baseline_sql, NULL, NULL, NULL);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (sqlite3_prepare_v2(db, tables[i].insert, -1, &st[i], NULL) != SQLITE_OK)
			abort();
	while (in.n && rows++ < 256) {
		int t = take(&in) % (int)(sizeof(tables) / sizeof(tables[0]));

		for (int c = 1; c <= tables[t].ncols; c++)
			bind_value(st[t], c, t, &in);
		sqlite3_step(st[t]); /* constraint failures are inputs too: ignored */
		sqlite3_reset(st[t]);
		sqlite3_clear_bindings(st[t]);
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		sqlite3_finalize(st[i]);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return 0;
}

/* Text outputs: only '\n' (lines), and for csv the cell structure; nothing else below 0x20, no DEL,
 * no C1 or bidi code point, valid UTF-8. */
static void check_text(const char *s, size_t n, const char *what)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	uint32_t cp;
	int k;

	while (p < end) {
		if (*p == '\n') {
			p++;
			continue;
		}
		k = utf8_decode(p, &cp);
		if (!k || cp < 0x20 || cp == 0x7f || esc_is_invisible(cp)) {
			fprintf(stderr, "%s: raw 0x%02x at %zu\n", what, *p, (size_t)(p - (const unsigned char *)s));
			abort();
		}
		p += k;
	}
}

static void check_ascii(const char *s, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || (unsigned char)s[i] >= 0x7f) {
			fprintf(stderr, "%s: raw 0x%02x at %zu\n", what, (unsigned char)s[i], i);
			abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace *t = NULL;
	struct replay *rp = NULL;

	build(data, size);
	if (trace__load(path, &t))
		return 0;
	for (int fmt = REPORT_TEXT; fmt <= REPORT_COLLAPSED; fmt++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (!f)
			abort();
		report__write(t, (enum report_format)fmt, f);
		fclose(f);
		switch (fmt) {
		case REPORT_TEXT: check_text(buf, len, "text"); break;
		case REPORT_CSV: check_text(buf, len, "csv"); break;
		case REPORT_COLLAPSED: check_text(buf, len, "collapsed"); break;
		case REPORT_JSON: check_ascii(buf, len, "json"); break;
		case REPORT_CHROME: check_ascii(buf, len, "chrome"); break;
		default: check_text(buf, len, "html"); break;
		}
		free(buf);
	}
	if (replay__new(t, 1e9, &rp) == 0) {
		struct snapshot_source src;
		struct strbuf sb;
		int steps = replay__steps(rp);

		sb_init(&sb);
		replay__source(&src, rp);
		for (int i = 0; i < steps && i < 64; i++) {
			struct snapshot snap;

			memset(&snap, 0, sizeof(snap));
			if (src.next_snapshot(src.ctx, &snap))
				break;
			sb_reset(&sb);
			view_text__snapshot(&sb, &snap);
			if (sb.buf)
				check_text(sb.buf, sb.len, "replay text");
			sb_reset(&sb);
			view_json__snapshot(&sb, &snap);
			if (sb.buf)
				check_ascii(sb.buf, sb.len, "replay json");
			if (src.done(src.ctx))
				break;
		}
		sb_free(&sb);
		replay__free(rp);
	}
	trace__free(t);
	return 0;
}
