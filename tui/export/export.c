/* export.c: the export formats and what they share (see export.h). */
#include "export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/utf8.h"

static const export_format formats[] = {
    {"axolotl", export_axolotl,
     "Axolotl's unfrozen_parameters (freeze_layers_except)"},
    {"fts", export_fts,
     "a Lightning FinetuningScheduler schedule from the plan's stages"},
    {"llamafactory", export_llamafactory,
     "LLaMA-Factory's freeze tuning settings"},
    {"modules", export_modules,
     "the module paths that hold exactly the frozen parameters"},
    {"names", export_names, "the frozen parameter names, one a line"},
};

const export_format *export_find(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return &formats[i];
    return NULL;
}

const char *export_format_names(void)
{
    return "axolotl, fts, llamafactory, modules or names";
}

int export_is_param(const session *s, size_t i)
{
    return table_at(&s->t, i)->kind == TK_PARAMETER &&
           tree_leaf(&s->tr, i) != NULL;
}

int export_count_nodes(const session *s, export_count **out)
{
    const tree *tr = &s->tr;
    export_count *c = calloc(tr->count ? tr->count : 1, sizeof *c);
    *out = NULL;
    if (!c)
        return err_set("out of memory");
    for (size_t i = 0; i < s->t.count; i++) {
        if (!export_is_param(s, i))
            continue;
        export_count *x = &c[tree_index(tr, tree_leaf(tr, i))];
        int fz = freeze_is_frozen(&s->fs, i);
        int named = !(table_at(&s->t, i)->flags & TF_ALIAS);
        x->frozen += fz;
        x->trainable += !fz;
        x->nfrozen += fz && named;
        x->ntrainable += !fz && named;
    }
    /* Pre-order: a parent comes before its children in the array. */
    for (size_t k = tr->count; k-- > 1;) {
        export_count *p = &c[tree_index(tr, tr->nodes[k].parent)];
        p->frozen += c[k].frozen;
        p->trainable += c[k].trainable;
        p->nfrozen += c[k].nfrozen;
        p->ntrainable += c[k].ntrainable;
    }
    *out = c;
    return 0;
}

export_count export_count_below(const session *s, const export_count *c,
                                size_t k)
{
    export_count b = c[k];
    long i = s->tr.nodes[k].tensor;
    if (i < 0 || !export_is_param(s, (size_t)i))
        return b;
    int fz = freeze_is_frozen(&s->fs, (size_t)i);
    int named = !(table_at(&s->t, (size_t)i)->flags & TF_ALIAS);
    b.frozen -= fz;
    b.trainable -= !fz;
    b.nfrozen -= fz && named;
    b.ntrainable -= !fz && named;
    return b;
}

const char *export_source(const session *s)
{
    return s->has_base && s->base_path ? s->base_path : s->checkpoint;
}

/* The code point of the valid UTF-8 sequence of n bytes at p. */
static unsigned long code_point(const unsigned char *p, size_t n)
{
    static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    unsigned long cp = p[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    return cp;
}

void export_yaml_string(FILE *out, const char *str, size_t len)
{
    const unsigned char *p = (const unsigned char *)str;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_valid_prefix(p + i, len - i);
        unsigned long cp = n ? code_point(p + i, n) : 0xfffd;
        if (n == 0)
            n = 1; /* not reached for valid input */
        if (cp == '"' || cp == '\\')
            fprintf(out, "\\%c", (int)cp);
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            fprintf(out, "\\x%02lx", cp); /* YAML's \x is the code point */
        else if (cp == 0xfffe || cp == 0xffff)
            fprintf(out, "\\u%04lx", cp);
        else
            fwrite(p + i, 1, n, out);
        i += n;
    }
    fputc('"', out);
}

int export_check_utf8(const session *s, const char *str, size_t len)
{
    size_t bad = 0;
    if (utf8_valid((const unsigned char *)str, len, &bad))
        return 0;
    char shown[41];
    size_t k = 0;
    for (size_t i = 0; i < bad && k < 40; i++)
        shown[k++] = str[i] >= 0x20 && str[i] < 0x7f ? str[i] : '?';
    shown[k] = '\0';
    return err_set("%s: the name '%s...' is not valid UTF-8 (byte %zu), "
                   "which a YAML export cannot hold", export_source(s),
                   shown, bad);
}

int export_finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out))
        return err_set("writing the export: %s", strerror(errno));
    return 0;
}
