/* SPDX-License-Identifier: BSD-2-Clause */
/* What pyleak can observe on one target, feature by feature, from its layout and probe tier. */
#include "target/features.h"

#include <stdio.h>
#include <string.h>

static const char *const names[PYF_COUNT] = {
	[PYF_GC] = "gc",	 [PYF_PAUSES] = "pauses", [PYF_CENSUS] = "census", [PYF_NAMES] = "type_names",
	[PYF_HOLDERS] = "holders", [PYF_SITES] = "sites", [PYF_ALLOC] = "alloc",   [PYF_LEAKS] = "leaks",
};

const char *py_feature__name(enum py_feature f)
{
	return f >= 0 && f < PYF_COUNT ? names[f] : "?";
}

#define HAS(v) ((v) != LAYOUT_NONE)

static void set(struct py_features *o, enum py_feature f, bool ok, const char *fmt, const char *arg)
{
	static const char prefix[] = "unsupported: ";
	size_t n = ok ? 0 : sizeof(prefix) - 1;

	o->ok[f] = ok;
	memcpy(o->text[f], prefix, n);
	/* a statement longer than PYF_TEXT_MAX is cut: still the start of a true sentence */
	snprintf(o->text[f] + n, sizeof(o->text[f]) - n, fmt, arg);
}

/*
 * The rules follow what each module checks before it reads anything: a feature is available
 * exactly when the fields it reads are in the target's layout (the day-one layout has only what
 * _Py_DebugOffsets gives) and its probe exists. A free-threaded build has no GC lists.
 */
void py_features__describe(const struct py_target *t, struct py_features *o)
{
	const struct py_layout *l = t->layout;
	const char *version = t->day_one    ? "this CPython minor (newer than pyleak's tables)"
			      : t->degraded ? "this build (no table in this pyleak)"
					    : t->version;
	bool stats, lists, names_full, names_any, frames, probe;

	memset(o, 0, sizeof(*o));
	if (!t->supported || !l) {
		for (int f = 0; f < PYF_COUNT; f++)
			set(o, f, false, "%s", t->why[0] ? t->why : "not supported");
		return;
	}
	stats = HAS(l->gc_generations) && HAS(l->gc_generation_stats) && l->gc_stats_size > 0;
	lists = HAS(l->gc_generations) && l->gc_head_size > 0 && !t->free_threaded;
	names_any = HAS(l->type_name) && HAS(l->type_flags) && HAS(l->object_type);
	names_full = names_any && HAS(l->heaptype_qualname) && HAS(l->type_dict) && HAS(l->dict_keys) &&
		     HAS(l->dictkeys_indices);
	frames = HAS(l->tstate_frame) && HAS(l->frame_previous) && HAS(l->frame_code) && HAS(l->frame_lasti) &&
		 l->code_size > 0;
	probe = t->tier == GC_TIER_USDT || t->tier == GC_TIER_UPROBE;

	if (stats)
		set(o, PYF_GC, true, "%s", "exact (generation_stats)");
	else if (probe)
		set(o, PYF_GC, true, "%s", "collections and collected from gc__start/done events since attach "
					   "(generation_stats layout unknown)");
	else
		set(o, PYF_GC, false, "generation_stats layout of %s unknown and no probe", version);

	if (probe)
		set(o, PYF_PAUSES, true, "exact (%s)", gc_tier__name(t->tier));
	else if (HAS(l->gc_collecting))
		set(o, PYF_PAUSES, true, "%s", "estimated (sampling gcstate->collecting)");
	else
		set(o, PYF_PAUSES, false, "%s", "no probe and no `collecting` offset");

	if (t->free_threaded && (t->degraded || !(t->major == 3 && t->minor == 13)))
		set(o, PYF_CENSUS, false, "free-threaded %s: its mimalloc heap layout is unknown to this pyleak",
		    t->version);
	else if (t->free_threaded)
		set(o, PYF_CENSUS, true, "%s",
		    "mimalloc heaps (GC and GC_PRE heaps of live threads and the pages exited threads abandoned)");
	else if (!lists)
		set(o, PYF_CENSUS, false, "GC list layout of %s unknown (not in _Py_DebugOffsets)", version);
	else if (!names_any)
		set(o, PYF_CENSUS, false, "%s", "type object layout unknown");
	else
		set(o, PYF_CENSUS, true, "%s", "gc lists");

	if (names_full)
		set(o, PYF_NAMES, true, "%s", "module.qualname");
	else if (names_any)
		set(o, PYF_NAMES, true, "%s", "tp_name only (heap types without their module: ht_qualname and "
					      "the dict layout are not in _Py_DebugOffsets)");
	else
		set(o, PYF_NAMES, false, "%s", "type object layout unknown");

	if (!o->ok[PYF_CENSUS])
		set(o, PYF_HOLDERS, false, "%s", "needs the census");
	else if (!names_full || !HAS(l->interp_modules) || !HAS(l->module_dict))
		set(o, PYF_HOLDERS, false, "%s", "dict/module layout unknown");
	else
		set(o, PYF_HOLDERS, true, "%s", "module globals, class and instance attributes");

	if (!probe)
		set(o, PYF_SITES, false, "%s", "no collection-start probe (poll tier)");
	else if (!frames)
		set(o, PYF_SITES, false, "%s", "frame/code layout unknown");
	else
		set(o, PYF_SITES, true, "%s", "stacks sampled at gc__start");

	if (t->free_threaded)
		set(o, PYF_ALLOC, false, "%s",
		    "free-threaded build: no young GC list to sample and no GC header before objects");
	else if (!probe || !lists || !names_any)
		set(o, PYF_ALLOC, false, "%s", !probe ? "no collection-start probe (poll tier)" : "needs the GC lists");
	else
		set(o, PYF_ALLOC, true, "%s", "young sample (default), exact on request");

	if (o->ok[PYF_CENSUS])
		set(o, PYF_LEAKS, true, "%s", "from census growth");
	else
		set(o, PYF_LEAKS, false, "%s", "needs the census");
}

bool py_features__has(const struct py_target *t, enum py_feature f)
{
	struct py_features o;

	py_features__describe(t, &o);
	return f >= 0 && f < PYF_COUNT && o.ok[f];
}
