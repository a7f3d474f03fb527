/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes (a target's name) through every escaper of util/escape. */
/*
 * Checks, for every input: esc_text, esc_html, esc_csv, esc_prom, esc_dot and esc_collapsed give
 * valid UTF-8 without a C0/C1 control, DEL or bidi override; esc_json gives printable ASCII;
 * esc_text_decode(esc_text(x)) == x; esc_text_buf never cuts an escape (its result is a prefix
 * of the full escape and decodes). A violation aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"

static void check_visible(const char *s, const char *what)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	int n;

	for (; *p; p += n) {
		n = utf8_decode(p, &cp);
		if (!n || cp < 0x20 || cp == 0x7f || esc_is_invisible(cp)) {
			fprintf(stderr, "%s: raw byte 0x%02x at offset %zu\n", what, *p, (size_t)(p - (const unsigned char *)s));
			abort();
		}
	}
}

static void check_ascii_json(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '<')
			abort();
}

static char *run(esc_fn fn, const char *in)
{
	struct strbuf sb;
	char *out;

	sb_init(&sb);
	fn(&sb, in);
	if (sb.oom)
		abort();
	out = strdup(sb.buf ? sb.buf : "");
	sb_free(&sb);
	if (!out)
		abort();
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct { esc_fn fn; const char *name; } visible[] = {
		{ esc_html, "html" }, { esc_csv, "csv" }, { esc_prom, "prom" }, { esc_dot, "dot" },
		{ esc_collapsed, "collapsed" },
	};
	char *in, *text, *dec, *cut;
	size_t len, cutsz;
	long n;

	/* a C string: the readers stop names at NUL */
	in = malloc(size + 1);
	if (!in)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	len = strlen(in);

	text = run(esc_text, in);
	check_visible(text, "text");
	dec = malloc(len + 1);
	if (!dec)
		abort();
	n = esc_text_decode(text, dec, len + 1);
	if (n != (long)len || memcmp(dec, in, len))
		abort(); /* not reversible */

	/* a bounded copy is a prefix of the whole escape, at an escape boundary */
	cutsz = size ? (size_t)data[0] % 64 + 1 : 1;
	cut = malloc(cutsz);
	if (!cut)
		abort();
	esc_text_buf(cut, cutsz, in);
	if (strlen(cut) >= cutsz || strncmp(cut, text, strlen(cut)))
		abort();
	check_visible(cut, "text_buf");
	{
		char *d2 = malloc(strlen(cut) + 1);

		if (!d2 || esc_text_decode(cut, d2, strlen(cut) + 1) < 0)
			abort(); /* cut inside an escape */
		free(d2);
	}

	for (size_t i = 0; i < sizeof(visible) / sizeof(visible[0]); i++) {
		char *o = run(visible[i].fn, in);

		check_visible(o, visible[i].name);
		if (visible[i].fn == esc_html && strpbrk(o, "<>\"'"))
			abort();
		if (visible[i].fn == esc_collapsed && strchr(o, ';'))
			abort();
		if (visible[i].fn == esc_csv && (o[0] != '"' || (o[1] && strchr("=+-@\t\r", o[1]))))
			abort();
		free(o);
	}
	{
		char *j = run(esc_json, in);

		check_ascii_json(j);
		free(j);
	}
	free(cut);
	free(dec);
	free(text);
	free(in);
	return 0;
}
