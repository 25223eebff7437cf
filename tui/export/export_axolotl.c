/* export_axolotl.c: `--export axolotl`, Axolotl's `unfrozen_parameters`.
 *
 * Consumer semantics (axolotl-ai-cloud/axolotl):
 * - src/axolotl/train.py calls freeze_layers_except(model, patterns) only
 *   `if cfg.unfrozen_parameters:`, so an empty or missing list freezes
 *   nothing: everything trains.
 * - src/axolotl/utils/freeze.py, freeze_layers_except: every entry of
 *   model.named_parameters() (parameters only, a tie group once under its
 *   first name) is frozen, then unfrozen when any pattern matches.
 * - LayerNamePattern: a suffix matching `^(.+)\[([0-9]*)(?::([0-9]*))?\]$`
 *   is cut off first (a row range); the rest is compiled after
 *   re.sub(r"\.(?!\+)", "\\.", pattern): every dot not followed by `+`
 *   becomes a literal dot. Matching is re.match: anchored at the start,
 *   not at the end.
 *
 * So the export writes bare dots (Axolotl makes them literal; `\.` would
 * become `\\.`, a literal backslash), `^NAME$` for one tensor and
 * `^PATH.` for a module subtree (the dot keeps `layer1.` from catching
 * `layer10`), and escapes the other regex metacharacters with a
 * backslash, which Axolotl's re.sub leaves alone. No pattern ends in `]`,
 * so none loses a range suffix. The list is the shortest of that form: a
 * subtree whose named parameters all train is one prefix, otherwise the
 * walk descends; a node that is both a tensor and a module prefix gets
 * `^NAME$` and, when its whole subtree trains, `^NAME.`.
 * A plan with nothing frozen exports the empty list (Axolotl then
 * freezes nothing, which is that plan); a plan with everything frozen
 * is refused, since Axolotl has no list that trains nothing.
 */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

/* Appends the regex of a node's path to buf (cap >= 2 * path + 3). */
static size_t regex_of(const char *path, size_t len, int subtree, char *buf)
{
    size_t k = 0;
    buf[k++] = '^';
    for (size_t i = 0; i < len; i++) {
        if (strchr("\\^$*+?()[]{}|", path[i]))
            buf[k++] = '\\';
        buf[k++] = path[i];
    }
    buf[k++] = subtree ? '.' : '$';
    return k;
}

/* The entries, in natural pre-order, into *out (malloc'ed). */
static int collect(const session *s, const export_count *c,
                   export_entry **out, size_t *n)
{
    const tree *tr = &s->tr;
    export_entry *e = malloc((tr->count ? tr->count : 1) * 2 * sizeof *e);
    size_t m = 0;
    if (!e)
        return err_set("out of memory");
    for (size_t k = 1; k < tr->count;) {
        const tree_node *nd = &tr->nodes[k];
        long i = nd->tensor;
        if (i >= 0 && export_is_param(s, (size_t)i) &&
            !(table_at(&s->t, (size_t)i)->flags & TF_ALIAS) &&
            !freeze_is_frozen(&s->fs, (size_t)i)) {
            e[m++] = (export_entry){(uint32_t)k, 0};
        }
        export_count b = export_count_below(s, c, k);
        if (b.ntrainable == 0) {
            k += nd->span;
        } else if (b.nfrozen == 0) {
            e[m++] = (export_entry){(uint32_t)k, 1};
            k += nd->span;
        } else {
            k++; /* descend: the first child comes next */
        }
    }
    *out = e;
    *n = m;
    return 0;
}

static void write_list(FILE *out, const session *s, const export_entry *e,
                       size_t n, char *path, char *rx)
{
    fputs("# Axolotl (freeze_layers_except): the parameters to train; every "
          "other one\n# is frozen. Dots are literal there, ^ and $ anchor "
          "(docs/cli.md).\nunfrozen_parameters:\n", out);
    for (size_t j = 0; j < n; j++) {
        size_t len = tree_node_path(&s->tr, &s->tr.nodes[e[j].node], path,
                                    TABLE_MAX_NAME + 1);
        size_t k = regex_of(path, len, e[j].subtree, rx);
        fputs("  - ", out);
        export_yaml_string(out, rx, k);
        fputc('\n', out);
    }
}

int export_axolotl(FILE *out, const session *s)
{
    export_count *c = NULL;
    export_entry *e = NULL;
    size_t n = 0;
    char *path = malloc(3 * (TABLE_MAX_NAME + 2));
    int rc = -1;
    if (!path) {
        err_set("out of memory");
        goto out;
    }
    char *rx = path + TABLE_MAX_NAME + 2;
    if (export_count_nodes(s, &c))
        goto out;
    const export_count *all = &c[0];
    if (all->ntrainable == 0 && all->nfrozen > 0) {
        err_set("%s: every parameter is frozen; Axolotl reads an empty "
                "unfrozen_parameters as 'train everything', so this plan "
                "cannot be exported", export_source(s));
        goto out;
    }
    if (all->nfrozen == 0) {
        fputs("# Axolotl: nothing is frozen. An empty unfrozen_parameters "
              "(or none) makes\n# Axolotl freeze nothing, so everything "
              "trains.\nunfrozen_parameters: []\n", out);
        rc = export_finish(out);
        goto out;
    }
    if (collect(s, c, &e, &n))
        goto out;
    for (size_t j = 0; j < n; j++) {
        size_t len = tree_node_path(&s->tr, &s->tr.nodes[e[j].node], path,
                                    TABLE_MAX_NAME + 1);
        if (export_check_utf8(s, path, len))
            goto out;
    }
    write_list(out, s, e, n, path, rx);
    rc = export_finish(out);
out:
    free(e);
    free(c);
    free(path);
    return rc;
}
