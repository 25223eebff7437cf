/* ui_stats.c: the values' statistics in the editor (docs/tui.1, S):
 * S on a row computes the statistics of its tensors (tui/inspect's
 * stats_run, as `tui --stats` does) in a background thread, batch by
 * batch, while every key still works; S again cancels. When they are
 * ready, a box shows them (a module: its tensors merged, and those that
 * hold NaN or Inf). What was computed is kept while the editor runs, and
 * rows holding NaN or Inf are flagged from then on (ui_stats_flag).
 * The thread reads the files and writes only the job's own results; the
 * main thread takes them over in ui_stats_poll. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/human.h"
#include "../inspect/stats.h"
#include "ui_impl.h"

#define BATCH_BYTES (64u << 20) /* a cancel is seen at most this late */

struct ui_stats {
    tensor_stats *cache;     /* t->count: what was computed */
    unsigned char *have;     /* 1: cache[i] holds tensor i's */
    size_t flagged;          /* tensors computed that hold NaN or Inf */
    /* the job (while running: its fields below belong to the thread) */
    int running;
    pthread_t th;
    atomic_int cancel, finished;
    atomic_uint_least64_t done, total;
    bitset sel;              /* its tensors */
    tensor_stats *out;       /* its results */
    const table *t;
    int rc;
    char err[600];
    long node;               /* the tree node it is for */
    char what[256];          /* that node's name, for messages */
    double started_ms;
};

/* The thread: the job's tensors in batches of BATCH_BYTES. */
static void *run_job(void *arg)
{
    ui_stats *st = arg;
    const table *t = st->t;
    bitset b;
    st->rc = 0;
    if (bitset_init(&b, t->count)) {
        snprintf(st->err, sizeof st->err, "out of memory");
        st->rc = -1;
        atomic_store(&st->finished, 1);
        return NULL;
    }
    size_t i = 0;
    while (i < t->count && !atomic_load(&st->cancel)) {
        uint64_t bytes = 0;
        size_t n = 0;
        bitset_zero(&b);
        for (; i < t->count && bytes < BATCH_BYTES; i++)
            if (bitset_get(&st->sel, i)) {
                bitset_set(&b, i);
                bytes += table_at(t, i)->nbytes;
                n++;
            }
        if (n && stats_run(t, &b, st->out, 1, NULL, NULL)) {
            snprintf(st->err, sizeof st->err, "%s", err_msg());
            st->rc = -1;
            break;
        }
        atomic_fetch_add(&st->done, bytes);
    }
    bitset_free(&b);
    atomic_store(&st->finished, 1);
    return NULL;
}

static int want(const table *t, size_t i)
{
    const table_tensor *x = table_at(t, i);
    return (x->kind == TK_PARAMETER || x->kind == TK_BUFFER) &&
           !(x->flags & (TF_ALIAS | TF_SPARSE)) &&
           stats_dtype_ok((dtype)x->dtype);
}

static int setup(ui *u)
{
    if (u->stats)
        return 0;
    ui_stats *st = calloc(1, sizeof *st);
    size_t n = u->s->t.count ? u->s->t.count : 1;
    if (!st || !(st->cache = calloc(n, sizeof *st->cache)) ||
        !(st->have = calloc(n, 1)) || !(st->out = calloc(n, sizeof *st->out))
        || bitset_init(&st->sel, u->s->t.count)) {
        if (st) {
            free(st->cache);
            free(st->have);
            free(st->out);
            free(st);
        }
        return err_set("out of memory");
    }
    st->t = &u->s->t;
    u->stats = st;
    return 0;
}

/* The merged statistics of node n's computed tensors into *m; *bad the
 * tensors with NaN or Inf; returns the tensors left to compute. */
static size_t merge_node(const ui *u, const tree_node *n, tensor_stats *m,
                         size_t *bad, size_t *count)
{
    const tree *tr = &u->s->tr;
    const ui_stats *st = u->stats;
    size_t at = (size_t)(n - tr->nodes), left = 0;
    stats_init(m);
    *bad = *count = 0;
    for (size_t j = at; j < at + n->span && j < tr->count; j++) {
        long i = tr->nodes[j].tensor;
        if (i < 0 || !want(&u->s->t, (size_t)i))
            continue;
        if (!st->have[i]) {
            left++;
            continue;
        }
        stats_merge(m, &st->cache[i]);
        *bad += st->cache[i].nan || st->cache[i].inf;
        (*count)++;
    }
    return left;
}

static const char *num(double v, char *buf, size_t cap)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

/* The box of node n's statistics. */
static void show(ui *u, const tree_node *n)
{
    tensor_stats m;
    size_t bad, count;
    char name[TABLE_MAX_NAME + 2], text[4096], a[32], b[32], c[32], d[32],
        e[32], f[32], g[32], h[32], k2[32];
    merge_node(u, n, &m, &bad, &count);
    size_t len = n->parent ? tree_node_path(&u->s->tr, n, name, sizeof name)
                           : 0;
    if (!n->parent)
        snprintf(name, sizeof name, "the whole checkpoint");
    else if (len >= sizeof name)
        name[sizeof name - 1] = '\0';
    int k = snprintf(text, sizeof text,
        "%s\n\nvalues   %s (%s finite)\nmin      %s\nmax      %s\n"
        "mean     %s\nstd      %s\nL2       %s\nNaN      %s\nInf      %s\n"
        "zeros    %s",
        name,
        human_count(m.count, a, sizeof a), human_count(m.finite, b, sizeof b),
        num(m.min, c, sizeof c), num(m.max, d, sizeof d),
        num(m.finite ? m.mean : NAN, e, sizeof e),
        num(stats_std(&m), f, sizeof f), num(stats_l2(&m), g, sizeof g),
        human_count(m.nan, h, sizeof h), human_count(m.inf, k2, sizeof k2),
        human_count(m.zero, a, sizeof a));
    if (n->child && k > 0 && (size_t)k < sizeof text)
        k += snprintf(text + k, sizeof text - k, "\n\nover %zu tensors (min, "
                      "max, mean, std over all their finite values)", count);
    const tree *tr = &u->s->tr;
    size_t at = (size_t)(n - tr->nodes), listed = 0;
    if (bad && k > 0 && (size_t)k < sizeof text)
        k += snprintf(text + k, sizeof text - k, "\n\n%zu tensor%s hold%s "
                      "NaN or Inf:", bad, bad == 1 ? "" : "s",
                      bad == 1 ? "s" : "");
    for (size_t j = at; bad && j < at + n->span && j < tr->count &&
                        listed < 8 && k > 0 && (size_t)k + 300 < sizeof text;
         j++) {
        long i = tr->nodes[j].tensor;
        if (i < 0 || !u->stats->have[i] ||
            !(u->stats->cache[i].nan || u->stats->cache[i].inf))
            continue;
        k += snprintf(text + k, sizeof text - k, "\n  %.200s: %llu NaN, %llu "
                      "Inf", table_name(&u->s->t, (size_t)i),
                      (unsigned long long)u->stats->cache[i].nan,
                      (unsigned long long)u->stats->cache[i].inf);
        listed++;
    }
    ui_show_text(u, "statistics", text);
}

/* Ends the job: joins the thread; keeps its results unless cancelled. */
static void finish(ui *u, int keep)
{
    ui_stats *st = u->stats;
    pthread_join(st->th, NULL);
    st->running = 0;
    if (!keep || st->rc)
        return;
    for (size_t i = 0; i < st->t->count; i++)
        if (bitset_get(&st->sel, i) && !st->have[i]) {
            st->cache[i] = st->out[i];
            st->have[i] = 1;
            st->flagged += st->out[i].nan || st->out[i].inf;
        }
}

int ui_stats_key(ui *u)
{
    if (setup(u)) {
        ui_message(u, 1, "statistics: %s", err_msg());
        return R_REDRAW;
    }
    ui_stats *st = u->stats;
    if (st->running) {
        atomic_store(&st->cancel, 1);
        finish(u, 0);
        ui_message(u, 0, "statistics of %s cancelled", st->what);
        return R_REDRAW;
    }
    const view_row *r = view_cursor_row(&u->v);
    const tree_node *n = &u->s->tr.nodes[r->first];
    const tree *tr = &u->s->tr;
    size_t at = (size_t)(n - tr->nodes);
    uint64_t bytes = 0;
    size_t left = 0;
    bitset_zero(&st->sel);
    for (size_t j = at; j < at + n->span && j < tr->count; j++) {
        long i = tr->nodes[j].tensor;
        if (i < 0 || !want(&u->s->t, (size_t)i) || st->have[i])
            continue;
        bitset_set(&st->sel, (size_t)i);
        bytes += table_at(&u->s->t, (size_t)i)->nbytes;
        left++;
    }
    if (!left) {
        tensor_stats m;
        size_t bad, count;
        merge_node(u, n, &m, &bad, &count);
        if (!count) {
            ui_message(u, 0, "no values here to take statistics of");
            return R_REDRAW;
        }
        show(u, n);
        return R_REDRAW;
    }
    if (n->parent)
        tree_node_path(tr, n, st->what, sizeof st->what);
    else
        snprintf(st->what, sizeof st->what, "the checkpoint");
    st->node = (long)at;
    st->cancel = 0;
    st->finished = 0;
    st->done = 0;
    st->total = bytes;
    st->err[0] = '\0';
    st->started_ms = ui_now_ms();
    if (pthread_create(&st->th, NULL, run_job, st) != 0) {
        ui_message(u, 1, "statistics: cannot start a thread");
        return R_REDRAW;
    }
    st->running = 1;
    char hb[32];
    ui_message(u, 0, "statistics of %s: reading %s (S cancels)", st->what,
               human_bytes(bytes, hb, sizeof hb));
    return R_REDRAW;
}

int ui_stats_running(const ui *u)
{
    return u->stats && u->stats->running;
}

int ui_stats_poll(ui *u)
{
    ui_stats *st = u->stats;
    char a[32], b[32];
    if (!st || !st->running)
        return 0;
    uint64_t done = atomic_load(&st->done), total = atomic_load(&st->total);
    if (!atomic_load(&st->finished)) {
        ui_message(u, 0, "statistics of %s: %s of %s (%.1f s; S cancels)",
                   st->what, human_bytes(done, a, sizeof a),
                   human_bytes(total, b, sizeof b),
                   (ui_now_ms() - st->started_ms) / 1000.0);
        return 1;
    }
    finish(u, 1);
    if (st->rc) {
        ui_message(u, 1, "statistics of %s: %s", st->what, st->err);
        return 1;
    }
    const view_row *r = view_cursor_row(&u->v);
    if ((long)r->first == st->node) {
        /* the box waits for its key: no ticks meanwhile */
        int ticks = u->ticks;
        u->ticks = 0;
        u->msg[0] = '\0';
        ui_draw(u);
        show(u, &u->s->tr.nodes[st->node]);
        u->ticks = ticks;
    } else {
        ui_message(u, 0, "statistics of %s ready: S on it shows them",
                   st->what);
    }
    return 1;
}

int ui_stats_flag(const ui *u, const tree_node *n)
{
    const ui_stats *st = u->stats;
    if (!st || !st->flagged)
        return 0;
    const tree *tr = &u->s->tr;
    size_t at = (size_t)(n - tr->nodes);
    for (size_t j = at; j < at + n->span && j < tr->count; j++) {
        long i = tr->nodes[j].tensor;
        if (i >= 0 && st->have[i] &&
            (st->cache[i].nan || st->cache[i].inf))
            return 1;
    }
    return 0;
}

void ui_stats_end(ui *u)
{
    ui_stats *st = u->stats;
    if (!st)
        return;
    if (st->running) {
        atomic_store(&st->cancel, 1);
        finish(u, 0);
    }
    bitset_free(&st->sel);
    free(st->cache);
    free(st->have);
    free(st->out);
    free(st);
    u->stats = NULL;
}
