/* pickle_check.c: the pickle machine's checks that are not one opcode's
 * meaning (pickle_int.h): frame lengths, NEWOBJ without BUILD, and
 * cycles in the finished value tree.
 *
 * A cycle (a dict holding itself, a list appended to itself through the
 * memo) is legal pickle and PyTorch loads it, but a checkpoint's values
 * must form a tree to be named by dotted paths; without this check the
 * walk would recurse until a name or depth limit said something else.
 */
#include "pickle_int.h"

#include <stdlib.h>

#include "../core/err.h"

/* ---- frames ------------------------------------------------------- */

int pickle_frame_open(pickle_frame *f, size_t op, size_t pos, uint64_t n,
                      size_t len)
{
    if (f->end && op < f->end)
        return err_set("frame mismatch: FRAME at offset %zu inside the "
                       "frame of offset %zu, which ends at offset %zu", op,
                       f->op, f->end);
    if (n > len - pos)
        return err_set("frame mismatch: FRAME at offset %zu declares %llu "
                       "bytes, only %zu left", op, (unsigned long long)n,
                       len - pos);
    f->op = op;
    f->end = pos + (size_t)n;
    return 0;
}

int pickle_frame_after(const pickle_frame *f, int opc, size_t op,
                       size_t pos, int stop)
{
    if (!f->end || op >= f->end)
        return 0;
    if (pos > f->end)
        return err_set("frame mismatch: opcode 0x%02x at offset %zu runs "
                       "past the end of its frame (FRAME at offset %zu, "
                       "ends at offset %zu)", opc, op, f->op, f->end);
    if (stop && pos < f->end)
        return err_set("frame mismatch: STOP at offset %zu inside the frame "
                       "of offset %zu, which ends at offset %zu", op, f->op,
                       f->end);
    return 0;
}

/* ---- NEWOBJ without BUILD ----------------------------------------- */

int pickle_pending_add(pickle_pending *p, pv *o)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        pv **ni = realloc(p->items, nc * sizeof *ni);
        if (!ni)
            return err_set("out of memory");
        p->items = ni;
        p->cap = nc;
    }
    o->u.o.pending = 1;
    p->items[p->n++] = o;
    return 0;
}

int pickle_pending_check(const pickle_pending *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const pv *o = p->items[i];
        if (o->u.o.pending)
            return err_set("object created by NEWOBJ of '%s.%s' at offset "
                           "%llu was not initialized by BUILD",
                           o->u.o.module, o->u.o.name,
                           (unsigned long long)o->off);
    }
    return 0;
}

/* ---- cycles ------------------------------------------------------- */

enum { MARK_NEW, MARK_OPEN, MARK_DONE };

/* The i-th child of v, or NULL past the last. */
static pv *check_child(const pv *v, size_t i)
{
    switch (v->type) {
    case PV_TUPLE:
    case PV_LIST:
        return i < v->u.seq.n ? v->u.seq.items[i] : NULL;
    case PV_DICT:
        return i < v->u.dict.n ? v->u.dict.kv[i] : NULL;
    case PV_OBJECT:
        return i == 0 ? v->u.o.state : NULL;
    default:
        return NULL;
    }
}

typedef struct {
    pv *v;
    size_t next; /* the next child to look at */
} check_frame;

int pickle_check_acyclic(const pv *root)
{
    check_frame *st = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    pv *r = (pv *)root; /* marks only; the values are otherwise untouched */
    if (r->mark == MARK_DONE)
        return 0;
    for (pv *v = r;;) {
        if (v) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                check_frame *ns = realloc(st, nc * sizeof *ns);
                if (!ns) {
                    err_set("out of memory");
                    goto cleanup;
                }
                st = ns;
                cap = nc;
            }
            v->mark = MARK_OPEN;
            st[n].v = v;
            st[n].next = 0;
            n++;
        }
        if (n == 0)
            break;
        check_frame *top = &st[n - 1];
        pv *c = check_child(top->v, top->next++);
        if (!c) {
            top->v->mark = MARK_DONE;
            n--;
            v = NULL;
            continue;
        }
        if (c->mark == MARK_OPEN) {
            err_set("cyclic reference at offset %llu (a %s that contains "
                    "itself%s)", (unsigned long long)c->off,
                    pickle_type_name(c), c == top->v ? "" : " through others");
            goto cleanup;
        }
        v = c->mark == MARK_NEW ? c : NULL;
    }
    rc = 0;
cleanup:
    free(st);
    return rc;
}
