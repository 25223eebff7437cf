/* session_measure.c: the activation measurement a session holds, and
 * whether its plan gives something to measure (see session.h). */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int session_set_measurement(session *s, const activation *a,
                            const bitset *frozen)
{
    const bitset *f = frozen ? frozen : &s->fs.frozen;
    activation *copy = NULL;
    bitset set = {NULL, 0};
    if (f->n != s->t.count)
        return err_set("measurement: a frozen set of %zu tensors for a "
                       "checkpoint of %zu", f->n, s->t.count);
    if (!(copy = malloc(sizeof *copy)) || bitset_init(&set, f->n)) {
        free(copy);
        bitset_free(&set);
        return err_set("out of memory");
    }
    if (activation_copy(copy, a)) {
        free(copy);
        bitset_free(&set);
        return -1;
    }
    bitset_copy(&set, f);
    activation_free(s->measured);
    free(s->measured);
    bitset_free(&s->measured_frozen);
    s->measured = copy;
    s->measured_frozen = set;
    return 0;
}

const activation *session_measurement(const session *s, int *fresh)
{
    if (fresh)
        *fresh = 0;
    if (!s->measured)
        return NULL;
    if (fresh) {
        const bitset *a = &s->measured_frozen, *b = &s->fs.frozen;
        *fresh = a->n == b->n &&
                 memcmp(a->w, b->w, (a->n / 64 + 1) * sizeof *a->w) == 0;
    }
    return s->measured;
}

int session_can_measure(const session *s, char *why, size_t cap)
{
    const plan_train *tr = &s->base.train;
    int ts = strcmp(s->t.format, "torchscript") == 0;
    if (s->has_base && tr->present && tr->model &&
        (tr->data.train || tr->input_ndim))
        return 1;
    if (!s->has_base || !tr->present || !tr->model)
        snprintf(why, cap, "%s: measuring runs one forward and backward of "
                 "a TorchScript model: open a plan whose train: section "
                 "names it (train.model%s) and its input (train.data, or "
                 "train.input_shape), tui --plan PLAN (docs/memory.md)",
                 ts ? "this checkpoint is a TorchScript archive, but"
                    : "the checkpoint holds only weights",
                 ts ? ", this archive" : ": a .ts.pt");
    else
        snprintf(why, cap, "the plan's train: section names no input: "
                 "give train.data, or train.input_shape (one sample's "
                 "shape, e.g. [3, 224, 224]) (docs/memory.md)");
    return 0;
}
