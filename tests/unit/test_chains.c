/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the suspects' grouping (chains__group): which suspects are the same leak as
 * another one, on hand-made chains, and the cases that must stay separate verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "analysis/chains.h"
#include "analysis/refs.h"
#include "util/common.h"

/* The chains a test says were found from a root, by type name. */
struct found_set {
	const char *type[4];
	const struct refs_chain *c[4];
	int n;
};

static const struct refs_chain *lookup(const void *ctx, const char *type)
{
	const struct found_set *f = ctx;
	int i;

	for (i = 0; i < f->n; i++)
		if (!strcmp(f->type[i], type))
			return f->c[i];
	return NULL;
}

static struct suspect *add_suspect(struct proc_row *row, enum suspect_kind kind, const char *name, double per_min)
{
	struct suspect *s = &row->suspects[row->nsuspects++];

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	copy_str(s->name, sizeof(s->name), name);
	s->per_min = per_min;
	s->confidence = 0.99;
	return s;
}

/*
 * sys.modules['svc'].__dict__['_CONNECTIONS'] (list @0x1000) [i] → svc.Connection, each holding
 * one list (its buffer) and one dict: links root first, steps parent → child.
 */
struct fake_chain {
	struct refs_chain c;
	struct refs_link links[3];
	struct refs_step steps[3];
};

static void link_of(struct refs_link *l, uint64_t addr, const char *type)
{
	memset(l, 0, sizeof(*l));
	l->from.addr = addr;
	copy_str(l->from.type, sizeof(l->from.type), type);
}

static void connection_chain(struct fake_chain *f)
{
	memset(f, 0, sizeof(*f));
	link_of(&f->links[0], 0x900, "dict"); /* the module's __dict__ */
	link_of(&f->links[1], 0x1000, "list"); /* svc._CONNECTIONS */
	f->steps[0] = (struct refs_step){ .parent = 0x900, .child = 0x1000 };
	f->steps[1] = (struct refs_step){ .parent = 0x1000, .child = 0x5000 };
	f->c.status = REFS_FOUND;
	f->c.root = REFS_ROOT_MODULE;
	f->c.nlinks = 2;
	f->c.links = f->links;
	f->c.nsteps = 2;
	f->c.steps = f->steps;
	f->c.target.addr = 0x5000;
	copy_str(f->c.target.type, sizeof(f->c.target.type), "svc.Connection");
	f->c.nreferents = 2;
	copy_str(f->c.referents[0].type, sizeof(f->c.referents[0].type), "list");
	f->c.referents[0].count = 1;
	copy_str(f->c.referents[1].type, sizeof(f->c.referents[1].type), "dict");
	f->c.referents[1].count = 2;
}

static struct proc_row *new_row(void)
{
	struct proc_row *row = calloc(1, sizeof(*row));

	assert_non_null(row);
	return row;
}

/* The connections leak: a list and a dict held by each Connection, at the predicted rates, and the
 * registry list on the chain, all go under svc.Connection; the leader is explained by nothing. */
static void test_members_of_one_leak(void **state)
{
	struct proc_row *row = new_row();
	struct fake_chain fc;
	struct found_set f = { .n = 1 };
	struct suspect *L, *lst, *dct, *reg;

	(void)state;
	connection_chain(&fc);
	f.type[0] = "svc.Connection";
	f.c[0] = &fc.c;
	L = add_suspect(row, SUSPECT_TYPE, "svc.Connection", 3000);
	lst = add_suspect(row, SUSPECT_TYPE, "list", 3300);  /* 1 per instance: 1.1x */
	dct = add_suspect(row, SUSPECT_TYPE, "dict", 5000);  /* 2 per instance: 0.83x */
	reg = add_suspect(row, SUSPECT_CONTAINER, "svc._CONNECTIONS", 3000);
	row->ncontainers = 1;
	copy_str(row->containers[0].name, sizeof(row->containers[0].name), "svc._CONNECTIONS");
	row->containers[0].addr = 0x1000;
	chains__group(row, lookup, &f);
	assert_string_equal(lst->explained_by, "svc.Connection");
	assert_non_null(strstr(lst->group_why, "each svc.Connection holds 1"));
	assert_string_equal(dct->explained_by, "svc.Connection");
	assert_non_null(strstr(dct->group_why, "holds 2"));
	assert_string_equal(reg->explained_by, "svc.Connection");
	assert_non_null(strstr(reg->group_why, "it holds the svc.Connection instances"));
	assert_string_equal(L->explained_by, "");
	assert_int_equal(L->explains, 3);
	free(row);
}

/* Growth the leader does not predict stays its own verdict: 10x the rate of the held type, a
 * shrinking one, a container that is not on the chain. */
static void test_rates_and_chain_must_agree(void **state)
{
	struct proc_row *row = new_row();
	struct fake_chain fc;
	struct found_set f = { .n = 1 };
	struct suspect *lst, *dct, *other;

	(void)state;
	connection_chain(&fc);
	f.type[0] = "svc.Connection";
	f.c[0] = &fc.c;
	add_suspect(row, SUSPECT_TYPE, "svc.Connection", 3000);
	lst = add_suspect(row, SUSPECT_TYPE, "list", 30000);
	dct = add_suspect(row, SUSPECT_TYPE, "dict", -6000);
	other = add_suspect(row, SUSPECT_CONTAINER, "svc._PAYLOADS", 3000);
	row->ncontainers = 1;
	copy_str(row->containers[0].name, sizeof(row->containers[0].name), "svc._PAYLOADS");
	row->containers[0].addr = 0x2000; /* not a parent on the chain */
	chains__group(row, lookup, &f);
	assert_string_equal(lst->explained_by, "");
	assert_string_equal(dct->explained_by, "");
	assert_string_equal(other->explained_by, "");
	assert_int_equal(row->suspects[0].explains, 0);
	free(row);
}

/* Without a chain found for the leader, nothing is grouped by its referents or its chain; a type
 * whose own chain passes through a leader instance still is. */
static void test_without_the_leaders_chain(void **state)
{
	struct proc_row *row = new_row();
	struct fake_chain fc;
	struct found_set none = { .n = 0 }, f = { .n = 1 };
	struct suspect *L, *buf;

	(void)state;
	L = add_suspect(row, SUSPECT_TYPE, "svc.Connection", 3000);
	buf = add_suspect(row, SUSPECT_TYPE, "svc.Buffer", 3100);
	chains__group(row, lookup, &none);
	assert_string_equal(buf->explained_by, "");
	/* svc.Buffer's chain: ... → list → svc.Connection (as the holder) → svc.Buffer */
	connection_chain(&fc);
	link_of(&fc.links[2], 0x5000, "svc.Connection");
	fc.c.nlinks = 3;
	copy_str(fc.c.target.type, sizeof(fc.c.target.type), "svc.Buffer");
	f.type[0] = "svc.Buffer";
	f.c[0] = &fc.c;
	chains__group(row, lookup, &f);
	assert_string_equal(buf->explained_by, "svc.Connection");
	assert_non_null(strstr(buf->group_why, "its chain passes through a svc.Connection"));
	assert_int_equal(L->explains, 1);
	free(row);
}

/* A program class on the leader's own chain holds the leader: it is never explained by it (the
 * Registry that keeps the Connections is not "a part of" the Connection leak), even at the same
 * rate; and a grouping run again starts from a clean slate. */
static void test_holder_class_not_explained(void **state)
{
	struct proc_row *row = new_row();
	struct fake_chain fc;
	struct found_set f = { .n = 1 };
	struct suspect *reg;

	(void)state;
	connection_chain(&fc);
	link_of(&fc.links[2], 0x3000, "svc.Registry");
	fc.c.nlinks = 3;
	copy_str(fc.c.referents[0].type, sizeof(fc.c.referents[0].type), "svc.Registry");
	f.type[0] = "svc.Connection";
	f.c[0] = &fc.c;
	add_suspect(row, SUSPECT_TYPE, "svc.Connection", 3000);
	reg = add_suspect(row, SUSPECT_TYPE, "svc.Registry", 3000);
	copy_str(reg->explained_by, sizeof(reg->explained_by), "stale");
	chains__group(row, lookup, &f);
	assert_string_equal(reg->explained_by, "");
	assert_string_equal(reg->group_why, "");
	assert_int_equal(row->suspects[0].explains, 0);
	free(row);
}

/* Two type suspects that each hold the other (a cycle of classes): one leads, the other is
 * explained, never both explained. */
static void test_no_cycles(void **state)
{
	struct proc_row *row = new_row();
	struct fake_chain a, b;
	struct found_set f = { .n = 2 };
	struct suspect *sa, *sb;

	(void)state;
	connection_chain(&a);
	copy_str(a.c.referents[0].type, sizeof(a.c.referents[0].type), "svc.Peer");
	connection_chain(&b);
	copy_str(b.c.target.type, sizeof(b.c.target.type), "svc.Peer");
	copy_str(b.c.referents[0].type, sizeof(b.c.referents[0].type), "svc.Connection");
	f.type[0] = "svc.Connection";
	f.c[0] = &a.c;
	f.type[1] = "svc.Peer";
	f.c[1] = &b.c;
	sa = add_suspect(row, SUSPECT_TYPE, "svc.Connection", 3000);
	sb = add_suspect(row, SUSPECT_TYPE, "svc.Peer", 3000);
	chains__group(row, lookup, &f);
	assert_string_equal(sa->explained_by, "");
	assert_string_equal(sb->explained_by, "svc.Connection");
	assert_int_equal(sa->explains, 1);
	assert_int_equal(sb->explains, 0);
	free(row);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_of_one_leak),
		cmocka_unit_test(test_rates_and_chain_must_agree),
		cmocka_unit_test(test_without_the_leaders_chain),
		cmocka_unit_test(test_holder_class_not_explained),
		cmocka_unit_test(test_no_cycles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
