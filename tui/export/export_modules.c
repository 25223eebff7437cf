/* export_modules.c: `--export modules`, the frozen set as module paths.
 *
 * Consumer semantics:
 * - timm, timm/utils/model.py freeze(root_module, submodules): each name
 *   goes through root_module.get_submodule(name) and the module's
 *   parameters() are frozen; an EMPTY list means the whole root module.
 * - Lightning, BaseFinetuning.freeze(modules): freezes each module's
 *   parameters() (src/lightning/pytorch/callbacks/finetuning.py).
 * - torch.nn.Module.get_submodule("a.b") walks attributes; "" is the
 *   module itself. module.parameters() yields every parameter below it,
 *   a tied one included (get_submodule("cls.predictions.decoder")
 *   .parameters() yields the weight tied to the embeddings).
 * So a module path covers the names below `PATH.` (a tensor named PATH
 * itself, where a state_dict has one, is a parameter of the parent). The
 * export lists the fewest module paths whose subtrees hold only frozen
 * parameters (every name counted, ties included: a tied name is frozen
 * exactly when its group is) and that cover every frozen
 * named_parameters() name a module path can cover; the frozen
 * parameters left over sit directly on a module that also holds
 * trainable ones (on the root: ViT's class_token), which no module path
 * reaches alone, and are listed by name under `parameters:` (for
 * model.get_parameter(name).requires_grad_(False)). Everything frozen is
 * the root, "" (get_submodule("") is the model); nothing frozen is two
 * empty lists, with a warning that timm's freeze(model, []) would freeze
 * the whole model. YAML, so both kinds of entry stay apart and any name
 * reads back exactly (docs/cli.md).
 */
#include "export.h"

#include <stdlib.h>

#include "../core/err.h"

typedef struct {
    export_entry *mods, *params;
    size_t nmods, nparams;
} cover;

/* Fills the cover, in natural pre-order. Cannot fail (arrays sized by the
 * caller to the node count). */
static void collect(const session *s, const export_count *c, cover *cv)
{
    const tree *tr = &s->tr;
    if (c[0].nfrozen > 0 && c[0].trainable == 0) {
        cv->mods[cv->nmods++] = (export_entry){0, 1}; /* the whole model */
        return;
    }
    for (size_t k = 1; k < tr->count;) {
        const tree_node *nd = &tr->nodes[k];
        long i = nd->tensor;
        if (i >= 0 && export_is_param(s, (size_t)i) &&
            !(table_at(&s->t, (size_t)i)->flags & TF_ALIAS) &&
            freeze_is_frozen(&s->fs, (size_t)i)) {
            cv->params[cv->nparams++] = (export_entry){(uint32_t)k, 0};
        }
        export_count b = export_count_below(s, c, k);
        if (b.nfrozen == 0) {
            k += nd->span;
        } else if (b.trainable == 0 && nd->path_len > 0) {
            /* (path "" below the root, from names like ".z", would read
             * as the whole model: that node is descended instead) */
            cv->mods[cv->nmods++] = (export_entry){(uint32_t)k, 1};
            k += nd->span;
        } else {
            k++; /* descend */
        }
    }
}

/* Writes `key:` and the paths of the nodes (checked UTF-8). */
static void write_list(FILE *out, const session *s, const char *key,
                       const export_entry *e, size_t n, char *path)
{
    fprintf(out, n ? "%s:\n" : "%s: []\n", key);
    for (size_t j = 0; j < n; j++) {
        size_t len = tree_node_path(&s->tr, &s->tr.nodes[e[j].node], path,
                                    TABLE_MAX_NAME + 1);
        fputs("  - ", out);
        export_yaml_string(out, path, len);
        fputc('\n', out);
    }
}

/* 0 when every name to write is valid UTF-8 (so nothing is half-written). */
static int check_names(const session *s, const export_entry *e, size_t n,
                       char *path)
{
    for (size_t j = 0; j < n; j++) {
        size_t len = tree_node_path(&s->tr, &s->tr.nodes[e[j].node], path,
                                    TABLE_MAX_NAME + 1);
        if (export_check_utf8(s, path, len))
            return -1;
    }
    return 0;
}

int export_modules(FILE *out, const session *s)
{
    export_count *c = NULL;
    size_t cap = s->tr.count ? s->tr.count : 1;
    cover cv = {malloc(cap * sizeof *cv.mods), malloc(cap * sizeof *cv.params),
                0, 0};
    char *path = malloc(TABLE_MAX_NAME + 2);
    int rc = -1;
    if (!cv.mods || !cv.params || !path) {
        err_set("out of memory");
        goto out;
    }
    if (export_count_nodes(s, &c))
        goto out;
    collect(s, c, &cv);
    if (check_names(s, cv.mods, cv.nmods, path) ||
        check_names(s, cv.params, cv.nparams, path))
        goto out;
    fputs("# The module paths whose parameters are exactly the frozen ones "
          "(timm's\n# freeze(model, modules), Lightning's "
          "BaseFinetuning.freeze, or\n# model.get_submodule(path)"
          ".parameters()); \"\" is the whole model.\n", out);
    if (c[0].nfrozen == 0)
        fputs("# Nothing is frozen: freeze nothing. (timm's freeze(model, "
              "[]) would\n# freeze the whole model.)\n", out);
    write_list(out, s, "modules", cv.mods, cv.nmods, path);
    fputs("# Frozen parameters that sit on a module that also holds "
          "trainable ones:\n# freeze them by name, "
          "model.get_parameter(name).requires_grad_(False).\n", out);
    write_list(out, s, "parameters", cv.params, cv.nparams, path);
    rc = export_finish(out);
out:
    free(c);
    free(cv.mods);
    free(cv.params);
    free(path);
    return rc;
}
