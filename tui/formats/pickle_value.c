/* pickle_value.c: the value arena and container helpers of the pickle
 * machine (see pickle.h, pickle_int.h). */
#include "pickle_int.h"

#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

/* ---- arena -------------------------------------------------------- */

#define ARENA_BLOCK (64u * 1024u)

struct pickle_arena_block {
    pickle_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *pickle_alloc(pickle_machine *pm, size_t n)
{
    pickle_arena_block *b = pm->arena;
    n = (n + 15u) & ~(size_t)15u;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) {
            err_set("out of memory");
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = pm->arena;
        pm->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void pickle_free(pickle_machine *pm)
{
    if (!pm)
        return;
    while (pm->arena) {
        pickle_arena_block *n = pm->arena->next;
        free(pm->arena);
        pm->arena = n;
    }
}

pv *pickle_new(pickle_machine *pm, pv_type type)
{
    pv *v = pickle_alloc(pm, sizeof *v);
    if (v) {
        v->type = (uint8_t)type;
        v->depth = 1;
    }
    return v;
}

char *pickle_strdup(pickle_machine *pm, const unsigned char *s,
                           size_t n)
{
    char *d = pickle_alloc(pm, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- containers --------------------------------------------------- */

/* Appends `v` to the array (*items, *n, *cap), growing in the arena. */
int pickle_push_item(pickle_machine *pm, pv ***items, size_t *n,
                            size_t *cap, pv *v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        pv **ni = pickle_alloc(pm, nc * sizeof *ni);
        if (!ni)
            return -1;
        if (*n)
            memcpy(ni, *items, *n * sizeof *ni);
        *items = ni;
        *cap = nc;
    }
    (*items)[(*n)++] = v;
    return 0;
}

int pickle_deepen(pv *c, const pv *child)
{
    if (child->depth + 1 > c->depth)
        c->depth = child->depth + 1;
    if (c->depth > PICKLE_MAX_DEPTH)
        return err_set("values nested deeper than %u", PICKLE_MAX_DEPTH);
    return 0;
}

int pickle_dict_set(pickle_machine *pm, pv *d, pv *k, pv *v)
{
    if (pickle_deepen(d, k) || pickle_deepen(d, v))
        return -1;
    return pickle_push_item(pm, &d->u.dict.kv, &d->u.dict.n, &d->u.dict.cap,
                            k) ||
           pickle_push_item(pm, &d->u.dict.kv, &d->u.dict.n, &d->u.dict.cap,
                            v);
}

int pickle_dict_from_pairs(pickle_machine *pm, pv *d, const pv *pairs)
{
    if (pairs->type == PV_DICT) { /* Counter({key: count}) */
        for (size_t i = 0; i + 1 < pairs->u.dict.n; i += 2)
            if (pickle_dict_set(pm, d, pairs->u.dict.kv[i],
                                pairs->u.dict.kv[i + 1]))
                return -1;
        return 0;
    }
    if (pairs->type != PV_LIST && pairs->type != PV_TUPLE)
        return err_set("OrderedDict or Counter of a %s",
                       pickle_type_name(pairs));
    for (size_t i = 0; i < pairs->u.seq.n; i++) {
        const pv *p = pairs->u.seq.items[i];
        if (p->type != PV_TUPLE || p->u.seq.n != 2)
            return err_set("OrderedDict item is not a pair");
        if (pickle_dict_set(pm, d, p->u.seq.items[0], p->u.seq.items[1]))
            return -1;
    }
    return 0;
}

pv *pickle_dict_get(const pv *d, const char *key)
{
    if (!d || d->type != PV_DICT)
        return NULL;
    for (size_t i = 0; i + 1 < d->u.dict.n; i += 2) {
        const pv *k = d->u.dict.kv[i];
        if (k->type == PV_STR && strcmp(k->u.str.s, key) == 0)
            return d->u.dict.kv[i + 1];
    }
    return NULL;
}

const char *pickle_type_name(const pv *v)
{
    static const char *const names[] = {
        "none", "bool", "int", "float", "str", "bytes", "tuple", "list",
        "dict", "global", "storage", "tensor", "object"};
    if (!v || v->type >= sizeof names / sizeof *names)
        return "?";
    return names[v->type];
}
