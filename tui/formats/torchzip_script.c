/* torchzip_script.c: the module tree of a TorchScript archive
 * (tz_walk_script in torchzip_int.h).
 *
 * data.pkl of torch.jit.save holds the root module as
 * `__torch__.<qual> <Class>` NEWOBJ + BUILD {attr: value}. Submodules are
 * such objects again; tensors are attributes. Which attributes are
 * parameters and which buffers is written only in the class source,
 * code/__torch__/<qual as path>.py:
 *     class Conv2d(Module):
 *       __parameters__ = ["weight", "bias", ]
 *       __buffers__ = []
 * Those two lines are the only thing read from code/ (text search; the
 * code is never run). Mangled classes (`___torch_mangle_N`) have their
 * own files. A tensor attribute in neither list (a plain tensor
 * attribute, or a tensor inside a list or dict attribute) is TK_OTHER;
 * when a class has no source in the archive, the state_dict rule
 * (table_guess_kind) decides. requires_grad is the saved flag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "torchzip_int.h"

struct tz_code {
    tz_code *next;
    char *qual;    /* "module Class" */
    char *params;  /* the text inside __parameters__ = [...], or NULL */
    char *buffers; /* the text inside __buffers__ = [...], or NULL */
    int found;     /* the class source was found */
};

/* One code/ file, read and inflated once however many classes it holds
 * (TZ_MAX_CODE_TOTAL counts each file once). */
struct tz_src {
    struct tz_src *next;
    const zip_entry *e;
    unsigned char *src;
    size_t len;
};

void tz_code_free(tz_ctx *c)
{
    while (c->srcs) {
        struct tz_src *n = c->srcs->next;
        free(c->srcs->src);
        free(c->srcs);
        c->srcs = n;
    }
    while (c->code) {
        tz_code *n = c->code->next;
        free(c->code->qual);
        free(c->code->params);
        free(c->code->buffers);
        free(c->code);
        c->code = n;
    }
}

/* The text between "<field> = [" and "]" in the class block, or NULL. */
static char *tz_list_field(const char *blk, size_t blen, const char *field)
{
    char pat[64];
    int n = snprintf(pat, sizeof pat, "\n  %s = [", field);
    const char *p = memmem(blk, blen, pat, (size_t)n);
    if (!p)
        return NULL;
    p += n;
    const char *end = memchr(p, ']', blen - (size_t)(p - blk));
    if (!end)
        return NULL;
    char *r = malloc((size_t)(end - p) + 1);
    if (r) {
        memcpy(r, p, (size_t)(end - p));
        r[end - p] = '\0';
    }
    return r;
}

/* Reads the class's source and fills `k`. 0, or -1 with err set. */
static int tz_class_read(tz_ctx *c, const char *module, const char *name,
                         tz_code *k)
{
    char rel[1024], pat[300];
    const unsigned char *src;
    size_t len;
    int n = snprintf(rel, sizeof rel, "code/%s.py", module);
    if (n < 0 || (size_t)n >= sizeof rel)
        return 0;
    for (char *p = rel + 5; *p; p++)
        if (*p == '.' && p < rel + n - 3)
            *p = '/';
    const zip_entry *e = zip_find(&c->z, rel, (size_t)n);
    if (!e)
        return 0;
    struct tz_src *f = c->srcs;
    while (f && f->e != e)
        f = f->next;
    if (!f) {
        if (e->size > TZ_MAX_CODE_TOTAL - c->code_bytes)
            return err_set("%s: more than %u bytes of TorchScript class "
                           "source", e->name, TZ_MAX_CODE_TOTAL);
        if (!(f = calloc(1, sizeof *f)))
            return err_set("out of memory");
        if (zip_read_entry(&c->z, e, TZ_MAX_CODE, &f->src, &f->len)) {
            free(f);
            return -1;
        }
        c->code_bytes += e->size;
        f->e = e;
        f->next = c->srcs;
        c->srcs = f;
    }
    src = f->src;
    len = f->len;
    int pl = snprintf(pat, sizeof pat, "class %s(", name);
    const char *s = (const char *)src, *blk = NULL;
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), pat,
                                        (size_t)pl)) != NULL; p++)
        if (p == s || p[-1] == '\n') {
            blk = p;
            break;
        }
    if (blk) {
        const char *end = memmem(blk + 1, len - (size_t)(blk + 1 - s),
                                 "\nclass ", 7);
        size_t blen = end ? (size_t)(end - blk) : len - (size_t)(blk - s);
        k->found = 1;
        k->params = tz_list_field(blk, blen, "__parameters__");
        k->buffers = tz_list_field(blk, blen, "__buffers__");
    }
    return 0;
}

/* The cached class record for (module, name); NULL with err set. */
static tz_code *tz_class(tz_ctx *c, const char *module, const char *name)
{
    size_t ml = strlen(module), nl = strlen(name);
    for (tz_code *k = c->code; k; k = k->next)
        if (strncmp(k->qual, module, ml) == 0 && k->qual[ml] == ' ' &&
            strcmp(k->qual + ml + 1, name) == 0)
            return k;
    tz_code *k = calloc(1, sizeof *k);
    if (!k || !(k->qual = malloc(ml + nl + 2))) {
        free(k);
        err_set("out of memory");
        return NULL;
    }
    memcpy(k->qual, module, ml);
    k->qual[ml] = ' ';
    memcpy(k->qual + ml + 1, name, nl + 1);
    k->next = c->code;
    c->code = k;
    if (tz_class_read(c, module, name, k))
        return NULL;
    return k;
}

/* 1 when the list text holds "attr" (with its double quotes). */
static int tz_listed(const char *list, const char *attr)
{
    size_t n = strlen(attr);
    for (const char *p = list; p && (p = strchr(p, '"')) != NULL; p++) {
        if (strncmp(p + 1, attr, n) == 0 && p[1 + n] == '"')
            return 1;
        p = strchr(p + 1, '"');
        if (!p)
            break;
    }
    return 0;
}

static int tz_script_value(tz_ctx *c, const pv *v, const tz_code *cls,
                           const char *attr, unsigned depth);

static int tz_script_object(tz_ctx *c, const pv *o, unsigned depth)
{
    const pv *st = o->u.o.state;
    if (!st || st->type != PV_DICT)
        return 0;
    tz_code *cls = tz_class(c, o->u.o.module, o->u.o.name);
    if (!cls)
        return -1;
    for (size_t i = 0; i + 1 < st->u.dict.n; i += 2) {
        const pv *k = st->u.dict.kv[i];
        if (k->type != PV_STR || memchr(k->u.str.s, '\0', k->u.str.len))
            return err_set("TorchScript attribute name is a %s",
                           pickle_type_name(k));
        long old = tz_push(c, k->u.str.s, k->u.str.len);
        if (old < 0 ||
            tz_script_value(c, st->u.dict.kv[i + 1], cls, k->u.str.s,
                            depth + 1))
            return -1;
        tz_pop(c, old);
    }
    return 0;
}

static int tz_script_value(tz_ctx *c, const pv *v, const tz_code *cls,
                           const char *attr, unsigned depth)
{
    char seg[32];
    if (++c->visits > TZ_MAX_VISITS)
        return err_set("more than %u values to walk (memo reuse bomb?)",
                       TZ_MAX_VISITS);
    if (depth > PICKLE_MAX_DEPTH)
        return err_set("modules nested deeper than %u (or a cycle)",
                       PICKLE_MAX_DEPTH);
    switch (v->type) {
    case PV_TENSOR: {
        tensor_kind kind;
        if (cls && attr && tz_listed(cls->params, attr))
            kind = TK_PARAMETER;
        else if (cls && attr && tz_listed(cls->buffers, attr))
            kind = TK_BUFFER;
        else if (cls && !cls->found && attr)
            kind = table_guess_kind(c->name, c->name_len, (dtype)v->u.t.dt,
                                    v->u.t.ndim, v->u.t.size);
        else
            kind = TK_OTHER;
        return tz_add_tensor(c, v, kind,
                             v->u.t.requires_grad ? TF_REQUIRES_GRAD : 0);
    }
    case PV_OBJECT:
        return tz_script_object(c, v, depth);
    case PV_LIST:
    case PV_TUPLE:
        for (size_t i = 0; i < v->u.seq.n; i++) {
            int n = snprintf(seg, sizeof seg, "%zu", i);
            long old = tz_push(c, seg, (size_t)n);
            if (old < 0 ||
                tz_script_value(c, v->u.seq.items[i], NULL, NULL, depth + 1))
                return -1;
            tz_pop(c, old);
        }
        return 0;
    case PV_DICT:
        for (size_t i = 0; i + 1 < v->u.dict.n; i += 2) {
            const pv *k = v->u.dict.kv[i];
            if (k->type != PV_STR) /* tensors under non-string keys: skip */
                continue;
            long old = tz_push(c, k->u.str.s, strlen(k->u.str.s));
            if (old < 0 ||
                tz_script_value(c, v->u.dict.kv[i + 1], NULL, NULL,
                                depth + 1))
                return -1;
            tz_pop(c, old);
        }
        return 0;
    default:
        return 0; /* scalars, None (e.g. bias=None): nothing to list */
    }
}

int tz_walk_script(tz_ctx *c, const pv *root)
{
    if (root->type != PV_OBJECT)
        return err_set("TorchScript data.pkl holds a %s, not a module",
                       pickle_type_name(root));
    return tz_script_object(c, root, 0);
}

int tz_read_constants(tz_ctx *c, pickle_machine *pm)
{
    const zip_entry *e = zip_find(&c->z, "constants.pkl", 13);
    unsigned char *pkl = NULL;
    size_t len = 0;
    pv *top = NULL;
    int rc = -1;
    if (zip_read_entry(&c->z, e, TZ_MAX_PKL, &pkl, &len))
        goto cleanup;
    pickle_options opt = {1, len > PICKLE_MAX_OPS ? len : 0,
                          len / 4 > PICKLE_MAX_MEMO ? len / 4 : 0};
    if (pickle_run(pm, pkl, len, &opt, &top)) {
        err_prefix("%s: constants.pkl", c->path);
        goto cleanup;
    }
    rc = 0;
    if ((top->type == PV_TUPLE || top->type == PV_LIST) && top->u.seq.n == 0)
        goto cleanup;
    c->st_dir = "constants";
    long old = tz_push(c, "constants.pkl", 13);
    rc = old < 0 ? -1 : tz_walk_other(c, top);
    if (rc == 0)
        tz_pop(c, old);
    c->st_dir = NULL;
    if (rc && strncmp(err_msg(), c->path, strlen(c->path)) != 0)
        err_prefix("%s: constants.pkl", c->path);
cleanup:
    free(pkl);
    return rc;
}
