/* SPDX-License-Identifier: BSD-2-Clause */
/* Escaping of target-controlled strings for every output format: the one place that decides what an operator sees. */
#ifndef PYLEAK_ESCAPE_H
#define PYLEAK_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/common.h"

/*
 * Every string pyleak reads from a target (type, module and qualified names, dict keys, code
 * file and function names, comm, command line, paths, thread names) is bytes the target chose.
 * It passes through one of these before it reaches an output (docs/security.md, "What an
 * operator can trust"):
 *
 *   esc_text   terminals, text reports, stderr: visible and reversible. Printable ASCII and
 *              valid UTF-8 pass; '\\' -> "\\\\"; "\n" "\r" "\t"; other C0 and DEL -> "\xHH";
 *              a byte that is not part of valid UTF-8 -> "\xHH" (always >= \x80, so never
 *              confused with a C0 escape); C1 code points and the invisible reordering and
 *              line-breaking characters (U+061C, U+200E-U+200F, U+2028-U+202E, U+2066-U+2069)
 *              -> "\uXXXX". esc_text_decode() gives the original bytes back.
 *   esc_json   a quoted JSON string, pure ASCII: every non-ASCII code point as \uXXXX (surrogate
 *              pairs above U+FFFF), '<' '>' '&' as \u003c.. (safe inside an HTML <script>),
 *              bytes that are not valid UTF-8 replaced with U+FFFD (docs/json.md). NULL -> null.
 *   esc_csv    a quoted RFC 4180 cell of esc_text, with a "'" in front of a cell that would
 *              start with = + - @ TAB or CR (spreadsheet formula injection).
 *   esc_html   esc_text, then & < > " ' as character references: text and attribute safe.
 *   esc_prom   a Prometheus label value (between the quotes): esc_text, then \\ \" \n.
 *   esc_dot    a Graphviz DOT label (between the quotes): esc_text, then \\ and \".
 *   esc_collapsed  one frame of a collapsed stack: esc_text with ';' -> "\x3b" and ' ' kept
 *              (flamegraph.pl splits frames at ';' and the count at the last space).
 *
 * esc_buf writes into a fixed buffer, truncating at a whole escape (never half a "\x1b" or half
 * a UTF-8 character), and returns dst; it escapes one character at a time, so it takes only the
 * character-wise escapers (text, html, prom, dot, collapsed), not json or csv. esc_fputs writes
 * any of them to a FILE.
 */
void esc_text(struct strbuf *sb, const char *s);
void esc_json(struct strbuf *sb, const char *s);
void esc_csv(struct strbuf *sb, const char *s);
void esc_html(struct strbuf *sb, const char *s);
void esc_prom(struct strbuf *sb, const char *s);
void esc_dot(struct strbuf *sb, const char *s);
void esc_collapsed(struct strbuf *sb, const char *s);

/*
 * Stacks in a trace (docs/trace-schema.md, the sites and survivors tables) are frames joined
 * with ';', each frame the target's bytes with only ';' -> "\\;" and '\\' -> "\\\\" quoted
 * (esc_stack_frame), so a ';' inside a name no longer splits it and the file keeps the
 * original bytes. esc_stack_next() takes the next frame back (the original bytes) from *p into
 * out[outsz] (terminated; a longer frame is cut), moves *p past it and its separator, and
 * returns false when no frame is left. Not an output escaper: a view escapes the frame after.
 */
void esc_stack_frame(struct strbuf *sb, const char *s);
bool esc_stack_next(const char **p, char *out, size_t outsz);

/* UTF-8 of one code point (< 0x110000) into out[4]; returns the bytes written.  Also the TUI's. */
size_t esc_utf8_encode(char *out, uint32_t cp);

/* Room for esc_text of a string of n bytes, whatever they are: "\xHH" is the widest escape per byte. */
#define ESC_TEXT_SIZE(n) (4 * (n) + 1)

typedef void (*esc_fn)(struct strbuf *sb, const char *s);
/* esc(s) into dst[dstsz] (truncated at a whole escape); dst is always terminated. */
const char *esc_buf(char *dst, size_t dstsz, esc_fn esc, const char *s);
static inline const char *esc_text_buf(char *dst, size_t dstsz, const char *s)
{
	return esc_buf(dst, dstsz, esc_text, s);
}
/* esc(s) to f; returns what fputs returns. */
int esc_fputs(FILE *f, esc_fn esc, const char *s);

/*
 * For printf-style callers that need several escaped strings in one call: esc_ring__text()
 * returns esc_text(s) in the next of ESC_RING buffers (valid until ESC_RING more calls).
 * One ring per thread of output; esc_ring__free() releases it.
 */
#define ESC_RING 8
struct esc_ring {
	struct strbuf sb[ESC_RING];
	unsigned next;
};
const char *esc_ring__text(struct esc_ring *r, const char *s);
void esc_ring__free(struct esc_ring *r);

/* Inverse of esc_text: the original bytes into out[outsz] (terminated); length or -EINVAL. */
long esc_text_decode(const char *s, char *out, size_t outsz);

/* Length of the valid UTF-8 sequence at p (1-4; no overlongs, surrogates or > U+10FFFF), 0 if
 * the bytes there are not one; *cp gets the code point. Stops at the terminating NUL. */
int utf8_decode(const unsigned char *p, uint32_t *cp);
/* Is this code point one esc_text shows as \uXXXX (C1, bidi and line/paragraph separators)? */
bool esc_is_invisible(uint32_t cp);

#endif /* PYLEAK_ESCAPE_H */
