/* complete.c: Tab completion from the name tree and from a folder
 * (complete.h). Both gather candidates as (name, suffix) pairs, then
 * share one step: the longest common prefix extends the text.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "complete.h"
#include "err.h"

void complete_free(complete_result *r)
{
    if (!r)
        return;
    free(r->text);
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    memset(r, 0, sizeof *r);
}

/* Adds a candidate (len bytes of name, then suffix). Returns 0 or -1. */
static int add(complete_result *r, size_t *cap, const char *name,
               size_t len, const char *suffix)
{
    r->total++;
    if (r->n >= COMPLETE_MAX)
        return 0;
    if (r->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nn = realloc(r->names, nc * sizeof *nn);
        if (!nn)
            return err_set("out of memory");
        r->names = nn;
        *cap = nc;
    }
    size_t sl = strlen(suffix);
    char *s = malloc(len + sl + 1);
    if (!s)
        return err_set("out of memory");
    memcpy(s, name, len);
    memcpy(s + len, suffix, sl + 1);
    r->names[r->n++] = s;
    return 0;
}

/* out->text = the first `keep` bytes of text, then the common prefix of
 * the candidates (which all start with text[keep..]). Returns 0 or -1. */
static int finish(complete_result *r, const char *text, size_t keep)
{
    size_t common = 0;
    if (r->n > 0) {
        common = strlen(r->names[0]);
        for (size_t i = 1; i < r->n; i++) {
            size_t k = 0;
            while (k < common && r->names[i][k] == r->names[0][k])
                k++;
            common = k;
        }
    }
    size_t tl = strlen(text);
    if (r->n == 0 || keep + common < tl)
        common = tl - keep;  /* nothing to add: the text stays */
    r->text = malloc(keep + common + 1);
    if (!r->text)
        return err_set("out of memory");
    memcpy(r->text, text, keep);
    if (r->n > 0 && keep + common >= tl)
        memcpy(r->text + keep, r->names[0], common);
    else
        memcpy(r->text + keep, text + keep, common);
    r->text[keep + common] = '\0';
    return 0;
}

int complete_tree(const tree *tr, const char *text, complete_result *out)
{
    size_t cap = 0, tl = strlen(text), start = tl;
    memset(out, 0, sizeof *out);
    while (start > 0 && !strchr("*?[]{},", text[start - 1]))
        start--;
    const char *dot = NULL;
    for (const char *p = text + start; *p; p++)
        if (*p == '.')
            dot = p;
    size_t head = dot ? (size_t)(dot - text) + 1 : start;
    const tree_node *parent = NULL;
    if (strncmp(text, "re:", 3) != 0 && tree_root(tr)) {
        if (!dot)
            parent = tree_root(tr);
        else if (dot > text + start)
            parent = tree_find(tr, text + start,
                               (size_t)(dot - (text + start)));
    }
    const char *part = text + head;
    size_t pl = tl - head;
    for (const tree_node *c = parent ? parent->child : NULL; c;
         c = c->next) {
        if (c->seg_len < pl || memcmp(c->seg, part, pl) != 0)
            continue;
        if (add(out, &cap, c->seg, c->seg_len, "") < 0)
            goto fail;
    }
    if (finish(out, text, head) < 0)
        goto fail;
    /* one module that is not also a tensor: on to its children */
    if (out->n == 1 && parent) {
        const tree_node *c = tree_find(tr, out->text + start,
                                       strlen(out->text + start));
        if (c && c->child && c->tensor < 0) {
            size_t l = strlen(out->text);
            char *t = realloc(out->text, l + 2);
            if (!t) {
                err_set("out of memory");
                goto fail;
            }
            t[l] = '.';
            t[l + 1] = '\0';
            out->text = t;
        }
    }
    return 0;
fail:
    complete_free(out);
    return -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int complete_dir(const char *text, complete_result *out)
{
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    const char *slash = strrchr(text, '/');
    size_t head = slash ? (size_t)(slash - text) + 1 : 0;
    /* the folder with its trailing '/': "./" when there is none */
    char *dir = malloc(head + 3);
    if (!dir)
        return err_set("out of memory");
    if (head)
        memcpy(dir, text, head);
    else
        memcpy(dir, "./", 2);
    dir[head ? head : 2] = '\0';
    const char *part = text + head;
    size_t pl = strlen(part);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 ||
            (nm[0] == '.' && part[0] != '.') || strncmp(nm, part, pl) != 0)
            continue;
        size_t nl = strlen(nm), dl = strlen(dir);
        char *full = malloc(dl + nl + 1);
        if (!full) {
            err_set("out of memory");
            goto fail;
        }
        memcpy(full, dir, dl);
        memcpy(full + dl, nm, nl + 1);
        struct stat st;
        int isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        free(full);
        if (add(out, &cap, nm, nl, isdir ? "/" : "") < 0)
            goto fail;
    }
    if (d)
        closedir(d);
    d = NULL;
    if (out->n > 1)
        qsort(out->names, out->n, sizeof *out->names, by_name);
    free(dir);
    dir = NULL;
    if (finish(out, text, head) < 0)
        goto fail;
    return 0;
fail:
    if (d)
        closedir(d);
    free(dir);
    complete_free(out);
    return -1;
}
