/* SPDX-License-Identifier: BSD-2-Clause */
/* Escaping of target-controlled strings: text (terminal), JSON, CSV, HTML, Prometheus, DOT, collapsed stacks. */
#include "util/escape.h"

#include <errno.h>
#include <string.h>

int utf8_decode(const unsigned char *p, uint32_t *cp)
{
	uint32_t c;
	int n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0; /* continuation byte, 0xc0/0xc1 (always overlong) or 0xf5+ */
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * Code points that are valid UTF-8 but must not reach a terminal or a page raw: C1 controls
 * (xterm and others act on U+009B as CSI), the bidirectional controls of CVE-2021-42574
 * ("Trojan Source": U+202A-U+202E embeddings/overrides, U+2066-U+2069 isolates, and the marks
 * U+200E, U+200F, U+061C) and the line/paragraph separators U+2028/U+2029 (line breaks to
 * some viewers and to JavaScript before ES2019).
 */
bool esc_is_invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp < 0xa0) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static const char hexdigits[] = "0123456789abcdef";

static void put_hex_byte(struct strbuf *sb, unsigned char b)
{
	char e[5] = { '\\', 'x', hexdigits[b >> 4], hexdigits[b & 15], '\0' };

	sb_puts(sb, e);
}

static void put_u4(struct strbuf *sb, uint32_t cp)
{
	char e[7] = { '\\', 'u', hexdigits[(cp >> 12) & 15], hexdigits[(cp >> 8) & 15],
		      hexdigits[(cp >> 4) & 15], hexdigits[cp & 15], '\0' };

	sb_puts(sb, e);
}

/* esc_text with one extra byte escaped as \xHH (';' for collapsed stacks), 0 for none. */
static void text_escape(struct strbuf *sb, const char *s, unsigned char extra)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	uint32_t cp;
	int n;

	while (*p) {
		unsigned char c = *p;

		if (c >= 0x20 && c < 0x7f) {
			if (c == '\\')
				sb_puts(sb, "\\\\");
			else if (c == extra)
				put_hex_byte(sb, c);
			else
				sb_putc(sb, (char)c);
			p++;
			continue;
		}
		switch (c) {
		case '\n': sb_puts(sb, "\\n"); p++; continue;
		case '\r': sb_puts(sb, "\\r"); p++; continue;
		case '\t': sb_puts(sb, "\\t"); p++; continue;
		default: break;
		}
		if (c < 0x80) { /* the rest of C0, and DEL */
			put_hex_byte(sb, c);
			p++;
			continue;
		}
		n = utf8_decode(p, &cp);
		if (!n) {
			put_hex_byte(sb, c); /* >= \x80: cannot be mistaken for a C0 escape */
			p++;
			continue;
		}
		if (esc_is_invisible(cp)) {
			put_u4(sb, cp);
			p += n;
		} else {
			while (n--)
				sb_putc(sb, (char)*p++);
		}
	}
}

void esc_text(struct strbuf *sb, const char *s)
{
	text_escape(sb, s, 0);
}

void esc_collapsed(struct strbuf *sb, const char *s)
{
	text_escape(sb, s, ';');
}

void esc_stack_frame(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		if (*s == ';' || *s == '\\')
			sb_putc(sb, '\\');
		sb_putc(sb, *s);
	}
}

bool esc_stack_next(const char **p, char *out, size_t outsz)
{
	const char *s = *p;
	size_t n = 0;

	if (!s || !*s || !outsz)
		return false;
	for (; *s && *s != ';'; s++) {
		if (*s == '\\' && s[1])
			s++; /* the quoted byte itself (a lone trailing '\\' is kept as it is) */
		if (n + 1 < outsz)
			out[n++] = *s;
	}
	out[n] = '\0';
	*p = *s ? s + 1 : s;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t esc_utf8_encode(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

long esc_text_decode(const char *s, char *out, size_t outsz)
{
	size_t len = 0;
	char enc[4];
	size_t n, i;

	if (!outsz)
		return -EINVAL;
	while (*s) {
		if (*s != '\\') {
			enc[0] = *s++;
			n = 1;
		} else {
			switch (s[1]) {
			case '\\': enc[0] = '\\'; n = 1; s += 2; break;
			case 'n': enc[0] = '\n'; n = 1; s += 2; break;
			case 'r': enc[0] = '\r'; n = 1; s += 2; break;
			case 't': enc[0] = '\t'; n = 1; s += 2; break;
			case 'x': {
				int hi = hexval(s[2]), lo = hi < 0 ? -1 : hexval(s[3]);

				if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
					return -EINVAL;
				enc[0] = (char)(hi << 4 | lo);
				n = 1;
				s += 4;
				break;
			}
			case 'u': {
				uint32_t cp = 0;

				for (i = 2; i < 6; i++) {
					int v = hexval(s[i]);

					if (v < 0)
						return -EINVAL;
					cp = cp << 4 | (uint32_t)v;
				}
				if (cp >= 0xd800 && cp <= 0xdfff)
					return -EINVAL;
				n = esc_utf8_encode(enc, cp);
				s += 6;
				break;
			}
			default:
				return -EINVAL;
			}
		}
		if (len + n >= outsz)
			return -EINVAL;
		memcpy(out + len, enc, n);
		len += n;
	}
	out[len] = '\0';
	return (long)len;
}

void esc_json(struct strbuf *sb, const char *s)
{
	const unsigned char *p;
	uint32_t cp;
	int n;

	if (!s) {
		sb_puts(sb, "null");
		return;
	}
	sb_putc(sb, '"');
	for (p = (const unsigned char *)s; *p; p += n) {
		/* a run of printable ASCII that needs no escape goes in one copy (most names are one) */
		for (n = 0; p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"' && p[n] != '\\' && p[n] != '<' &&
			    p[n] != '>' && p[n] != '&';
		     n++)
			;
		if (n) {
			sb_putn(sb, (const char *)p, (size_t)n);
			continue;
		}
		n = 1;
		switch (*p) {
		case '"': sb_puts(sb, "\\\""); continue;
		case '\\': sb_puts(sb, "\\\\"); continue;
		case '\n': sb_puts(sb, "\\n"); continue;
		case '\r': sb_puts(sb, "\\r"); continue;
		case '\t': sb_puts(sb, "\\t"); continue;
		case '<': case '>': case '&': put_u4(sb, *p); continue;
		default: break;
		}
		if (*p < 0x80) {
			put_u4(sb, *p);
			continue;
		}
		n = utf8_decode(p, &cp);
		if (!n) {
			/* Not UTF-8: JSON text must be (RFC 8259 section 8.1). U+FFFD, one per byte. */
			put_u4(sb, 0xfffd);
			n = 1;
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			put_u4(sb, 0xd800 | (cp >> 10));
			put_u4(sb, 0xdc00 | (cp & 0x3ff));
		} else {
			put_u4(sb, cp);
		}
	}
	sb_putc(sb, '"');
}

void sb_json_str(struct strbuf *sb, const char *s)
{
	esc_json(sb, s);
}

void esc_csv(struct strbuf *sb, const char *s)
{
	struct strbuf t;
	const char *p;

	sb_init(&t);
	esc_text(&t, s);
	p = t.buf ? t.buf : "";
	sb_putc(sb, '"');
	/*
	 * Spreadsheets evaluate a cell that starts with = + - @ (and, after their own trimming, TAB
	 * or CR) as a formula (OWASP "CSV injection"). esc_text already turned TAB/CR into "\t"/"\r";
	 * the leading quote makes the rest literal text in Excel, LibreOffice and Google Sheets.
	 */
	if (*p == '=' || *p == '+' || *p == '-' || *p == '@' || *p == '\t' || *p == '\r')
		sb_putc(sb, '\'');
	for (; *p; p++) {
		if (*p == '"')
			sb_putc(sb, '"');
		sb_putc(sb, *p);
	}
	sb_putc(sb, '"');
	if (t.oom)
		sb->oom = true;
	sb_free(&t);
}

void esc_html(struct strbuf *sb, const char *s)
{
	struct strbuf t;
	const char *p;

	sb_init(&t);
	esc_text(&t, s);
	for (p = t.buf ? t.buf : ""; *p; p++) {
		switch (*p) {
		case '&': sb_puts(sb, "&amp;"); break;
		case '<': sb_puts(sb, "&lt;"); break;
		case '>': sb_puts(sb, "&gt;"); break;
		case '"': sb_puts(sb, "&quot;"); break;
		case '\'': sb_puts(sb, "&#39;"); break;
		default: sb_putc(sb, *p);
		}
	}
	if (t.oom)
		sb->oom = true;
	sb_free(&t);
}

/*
 * Prometheus label values and DOT labels: esc_text (so no control byte, no raw newline and only
 * UTF-8 remain), then the format's own quoting of '\\' and '"'. A label therefore shows the
 * same visible escapes as the text outputs ("\\x1b" in the exposition is the text "\x1b").
 */
static void quoted_label(struct strbuf *sb, const char *s)
{
	struct strbuf t;
	const char *p;

	sb_init(&t);
	esc_text(&t, s);
	for (p = t.buf ? t.buf : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			sb_putc(sb, '\\');
		sb_putc(sb, *p);
	}
	if (t.oom)
		sb->oom = true;
	sb_free(&t);
}

void esc_prom(struct strbuf *sb, const char *s)
{
	quoted_label(sb, s);
}

void esc_dot(struct strbuf *sb, const char *s)
{
	quoted_label(sb, s);
}

const char *esc_buf(char *dst, size_t dstsz, esc_fn esc, const char *s)
{
	struct strbuf one;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = 0;
	char ch[5];

	if (!dstsz)
		return dst;
	dst[0] = '\0';
	sb_init(&one);
	/* Escape one source character (a UTF-8 sequence or a byte) at a time, so the cut lands between escapes. */
	while (*p) {
		uint32_t cp;
		int n = utf8_decode(p, &cp);

		if (!n)
			n = 1;
		memcpy(ch, p, (size_t)n);
		ch[n] = '\0';
		p += n;
		sb_reset(&one);
		esc(&one, ch);
		if (one.oom || !one.buf || len + one.len >= dstsz)
			break;
		memcpy(dst + len, one.buf, one.len);
		len += one.len;
	}
	dst[len] = '\0';
	sb_free(&one);
	return dst;
}

const char *esc_ring__text(struct esc_ring *r, const char *s)
{
	struct strbuf *sb = &r->sb[r->next++ % ESC_RING];

	sb_reset(sb);
	esc_text(sb, s);
	return sb->buf && !sb->oom ? sb->buf : "";
}

void esc_ring__free(struct esc_ring *r)
{
	for (int i = 0; i < ESC_RING; i++)
		sb_free(&r->sb[i]);
	r->next = 0;
}

int esc_fputs(FILE *f, esc_fn esc, const char *s)
{
	struct strbuf sb;
	int rc;

	sb_init(&sb);
	esc(&sb, s);
	rc = sb.buf ? fputs(sb.buf, f) : 0;
	sb_free(&sb);
	return rc;
}
