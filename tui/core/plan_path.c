/* plan_path.c: the plan's model path, relative to the plan's folder
 * (see plan.h). */
#include "plan.h"

#include "err.h"
#include "path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_PARTS_MAX 4096u

/* An absolute, lexically normalized copy of `path` (malloc'ed), with a
 * folder resolved through realpath() when `resolve` and it exists. */
static char *abs_path(const char *path, int resolve)
{
    char *joined = NULL, *out = NULL;
    if (resolve) {
        char *r = realpath(path, NULL);
        if (r)
            return r;
    }
    if (path[0] == '/') {
        joined = strdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd && asprintf(&joined, "%s/%s", cwd, path) < 0)
            joined = NULL;
        free(cwd);
    }
    if (!joined)
        return NULL;
    size_t n = strlen(joined);
    out = malloc(n + 2);
    if (!out)
        goto cleanup;
    /* fold "", ".", ".." segments into out */
    size_t len = 0;
    char *save = NULL;
    for (char *seg = strtok_r(joined, "/", &save); seg;
         seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, seg, strlen(seg));
        len += strlen(seg);
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
cleanup:
    free(joined);
    return out;
}

/* Splits absolute `p` in place into its segments; returns the count. */
static size_t split_segments(char *p, char **seg, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *s = strtok_r(p, "/", &save); s && n < max;
         s = strtok_r(NULL, "/", &save))
        seg[n++] = s;
    return n;
}

char *plan_relpath(const char *from_dir, const char *to_path)
{
    char *from = NULL, *to = NULL, *to_dir = NULL, *out = NULL;
    char **a = NULL, **b = NULL;
    const char *slash = strrchr(to_path, '/');
    const char *base = slash ? slash + 1 : to_path;

    from = abs_path(from_dir, 1);
    to_dir = path_dir(to_path);
    if (!from || !to_dir)
        goto oom;
    if (*base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) {
        char *d = abs_path(to_dir, 1);
        if (!d || asprintf(&to, "%s/%s", d, base) < 0)
            to = NULL;
        free(d);
    } else {
        to = abs_path(to_path, 1);
    }
    a = malloc(PATH_PARTS_MAX * sizeof *a);
    b = malloc(PATH_PARTS_MAX * sizeof *b);
    if (!to || !a || !b)
        goto oom;
    size_t total = strlen(to) + 1;
    size_t na = split_segments(from, a, PATH_PARTS_MAX);
    size_t nb = split_segments(to, b, PATH_PARTS_MAX);
    if (na == PATH_PARTS_MAX || nb == PATH_PARTS_MAX) {
        err_set("%s: path has too many parts", to_path);
        goto cleanup;
    }
    size_t common = 0;
    while (common < na && common < nb && strcmp(a[common], b[common]) == 0)
        common++;
    if ((na - common) > (SIZE_MAX - total) / 3)
        goto oom;
    total += 3 * (na - common) + 2;
    out = malloc(total);
    if (!out)
        goto oom;
    size_t len = 0;
    for (size_t i = common; i < na; i++) {
        memcpy(out + len, "../", 3);
        len += 3;
    }
    for (size_t i = common; i < nb; i++) {
        size_t l = strlen(b[i]);
        memcpy(out + len, b[i], l);
        len += l;
        out[len++] = '/';
    }
    if (len == 0)
        out[len++] = '.';
    else
        len--; /* the last '/' */
    out[len] = '\0';
    goto cleanup;
oom:
    err_set("%s: out of memory", to_path);
cleanup:
    free(from);
    free(to);
    free(to_dir);
    free(a);
    free(b);
    return out;
}

int plan_set_model_path(plan *p, const char *plan_path,
                        const char *model_path)
{
    char *dir = path_dir(plan_path);
    char *rel = dir ? plan_relpath(dir, model_path) : NULL;
    int rc = -1;
    if (!dir) {
        err_set("%s: out of memory", plan_path);
        goto cleanup;
    }
    if (!rel)
        goto cleanup;
    if (!(p->model.path = plan_strdup(p, rel)))
        goto cleanup;
    rc = 0;
cleanup:
    free(dir);
    free(rel);
    return rc;
}

char *plan_model_file(const plan *p, const char *plan_path)
{
    char *dir = NULL, *out = NULL;
    if (!p->model.path || !*p->model.path) {
        err_set("%s: the plan has no model.path", plan_path);
        return NULL;
    }
    if (p->model.path[0] == '/') {
        out = strdup(p->model.path);
    } else if (!strchr(plan_path, '/')) {
        out = strdup(p->model.path);
    } else if ((dir = path_dir(plan_path)) != NULL) {
        if (asprintf(&out, "%s%s%s", dir,
                     dir[strlen(dir) - 1] == '/' ? "" : "/",
                     p->model.path) < 0)
            out = NULL;
    }
    free(dir);
    if (!out)
        err_set("%s: out of memory", plan_path);
    return out;
}

/* Length of `ckpt` without the trailing slashes of a folder (a lone "/"
 * stays). */
static size_t trimmed_len(const char *ckpt)
{
    size_t n = strlen(ckpt);
    while (n > 1 && ckpt[n - 1] == '/')
        n--;
    return n;
}

int plan_checkpoint_stem(const char *ckpt, char *buf, size_t cap)
{
    static const char *const tails[] = {".safetensors.index.json",
                                        ".bin.index.json", ".index.json"};
    struct stat st;
    size_t n = trimmed_len(ckpt), b = n;
    while (b > 0 && ckpt[b - 1] != '/')
        b--;
    const char *base = ckpt + b;
    size_t len = n - b;
    int cut = stat(ckpt, &st) == 0 && S_ISDIR(st.st_mode);
    for (size_t i = 0; i < sizeof tails / sizeof *tails && !cut; i++) {
        size_t tl = strlen(tails[i]);
        if (len > tl && memcmp(base + len - tl, tails[i], tl) == 0) {
            len -= tl;
            cut = 1;
        }
    }
    for (size_t i = len; !cut && i > 1; i--) {
        if (base[i - 1] == '.') {
            len = i - 1;
            cut = 1;
        }
    }
    if (len == 0) {
        base = "plan";
        len = 4;
    }
    if (len >= cap)
        return err_set("%s: the plan's name is too long", ckpt);
    memcpy(buf, base, len);
    buf[len] = '\0';
    return 0;
}

int plan_default_path(const char *ckpt, char *buf, size_t cap)
{
    char stem[4096];
    size_t b = trimmed_len(ckpt);
    while (b > 0 && ckpt[b - 1] != '/')
        b--;
    if (plan_checkpoint_stem(ckpt, stem, sizeof stem))
        return -1;
    int n = snprintf(buf, cap, "%.*s%s.plan.yaml", (int)b, ckpt, stem);
    if (n < 0 || (size_t)n >= cap)
        return err_set("%s: the plan's name is too long", ckpt);
    return 0;
}
