/* yamldoc.c: a bounded YAML document tree built from libyaml's event API
 * (see yamldoc.h).
 *
 * libyaml's own loader resolves aliases into a shared graph and, in the
 * 0.2.5 that distributions ship, has no depth limit; so this file builds
 * its own tree from events: anchors, aliases and foreign tags are refused
 * where they appear, depth, scalar size, input size and node count are
 * capped, and every node and string lives in one arena per document.
 */
#include "yamldoc.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define ARENA_BLOCK (64u << 10)
#define ARENA_ALIGN 16u
#define YTAG "tag:yaml.org,2002:"

typedef struct ablock ablock;
struct ablock {
    ablock *next;
    size_t used, cap;
    max_align_t data[];
};

struct yamldoc {
    char *name;
    ynode *root;
    ablock *blocks;
};

typedef struct {
    ynode *node;
    size_t start; /* index of its first child in the scratch stack */
} frame;

typedef struct {
    yamldoc *d;
    const char *buf;
    size_t len;
    ynode **kids; /* children of the open containers, innermost last */
    size_t nkids, kids_cap;
    frame frames[YAMLDOC_MAX_DEPTH];
    size_t depth;
    size_t nodes;
    int docs;
} builder;

static void *arena_alloc(yamldoc *d, size_t size)
{
    ablock *b = d->blocks;
    if (size > SIZE_MAX - ARENA_ALIGN - sizeof(ablock))
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = d->blocks;
        d->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

static int build_error(builder *b, const yaml_event_t *ev, const char *fmt,
                       ...) ERR_PRINTF(3, 4);

static int build_error(builder *b, const yaml_event_t *ev, const char *fmt,
                       ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set("%s:%zu:%zu: %s", b->d->name, ev->start_mark.line + 1,
                   ev->start_mark.column + 1, msg);
}

/* Line and column (1-based, columns in characters) of byte `off`. */
static void offset_position(const char *buf, size_t len, size_t off,
                            size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static void parser_error(builder *b, const yaml_parser_t *p)
{
    const char *name = b->d->name;
    const char *problem = p->problem ? p->problem : "syntax error";
    size_t line, col;
    if (p->error == YAML_MEMORY_ERROR) {
        err_set("%s: out of memory while parsing YAML", name);
    } else if (p->error == YAML_READER_ERROR) {
        size_t off = p->problem_offset < b->len ? p->problem_offset : b->len;
        /* a bad trailing byte: point at the sequence's leading byte */
        if (strstr(problem, "trailing") || strstr(problem, "incomplete")) {
            size_t o = off;
            for (int k = 0; k < 3 && o > 0; k++, o--) {
                unsigned char c = (unsigned char)b->buf[o - 1];
                if (c >= 0xC0) {
                    off = o - 1;
                    break;
                }
                if ((c & 0xC0) != 0x80)
                    break;
            }
        }
        offset_position(b->buf, b->len, off, &line, &col);
        if (off < b->len)
            err_set("%s:%zu:%zu: %s (byte 0x%02x); plans are UTF-8", name,
                    line, col, problem, (unsigned char)b->buf[off]);
        else
            err_set("%s:%zu:%zu: %s; plans are UTF-8", name, line, col,
                    problem);
    } else if (p->context) {
        err_set("%s:%zu:%zu: %s (%s at line %zu, column %zu)", name,
                p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                p->context, p->context_mark.line + 1,
                p->context_mark.column + 1);
    } else {
        err_set("%s:%zu:%zu: %s", name, p->problem_mark.line + 1,
                p->problem_mark.column + 1, problem);
    }
}

static const char *event_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return (const char *)ev->data.scalar.anchor;
    case YAML_MAPPING_START_EVENT:
        return (const char *)ev->data.mapping_start.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return (const char *)ev->data.sequence_start.anchor;
    default:
        return NULL;
    }
}

/* Makes a node for `ev` and attaches it to the open container (or makes
 * it the root). Returns it, or NULL with err set. */
static ynode *node_new(builder *b, const yaml_event_t *ev, ynode_type type)
{
    ynode *n = NULL;
    if (b->nodes >= YAMLDOC_MAX_NODES) {
        build_error(b, ev, "more than %u YAML nodes", YAMLDOC_MAX_NODES);
        return NULL;
    }
    if (b->depth > 0) {
        frame *f = &b->frames[b->depth - 1];
        int is_key = f->node->type == YNODE_MAP &&
                     (b->nkids - f->start) % 2 == 0;
        if (is_key && type != YNODE_SCALAR) {
            build_error(b, ev, "mapping keys must be plain scalars");
            return NULL;
        }
    } else if (b->d->root) {
        build_error(b, ev, "only one top-level node is allowed");
        return NULL;
    }
    n = arena_alloc(b->d, sizeof *n);
    if (!n) {
        build_error(b, ev, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->type = type;
    n->line = (unsigned)(ev->start_mark.line + 1);
    n->col = (unsigned)(ev->start_mark.column + 1);
    b->nodes++;
    if (b->depth == 0) {
        b->d->root = n;
        return n;
    }
    frame *f = &b->frames[b->depth - 1];
    if (f->node->type == YNODE_MAP && (b->nkids - f->start) % 2 == 1)
        n->key = b->kids[b->nkids - 1]->str;
    if (b->nkids == b->kids_cap) {
        size_t cap = b->kids_cap ? b->kids_cap * 2 : 256;
        ynode **k = realloc(b->kids, cap * sizeof *k);
        if (!k) {
            build_error(b, ev, "out of memory");
            return NULL;
        }
        b->kids = k;
        b->kids_cap = cap;
    }
    b->kids[b->nkids++] = n;
    return n;
}

static int on_scalar(builder *b, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t len = ev->data.scalar.length;
    if (tag && strcmp(tag, YTAG "str") != 0)
        return build_error(b, ev, "tag '%s' is not supported", tag);
    if (len > YAMLDOC_MAX_SCALAR)
        return build_error(b, ev, "scalar of %zu bytes is over the limit of "
                           "%u bytes", len, YAMLDOC_MAX_SCALAR);
    if (memchr(ev->data.scalar.value, '\0', len))
        return build_error(b, ev, "a NUL character in a scalar is not "
                           "supported");
    ynode *n = node_new(b, ev, YNODE_SCALAR);
    if (!n)
        return -1;
    char *s = arena_alloc(b->d, len + 1);
    if (!s)
        return build_error(b, ev, "out of memory");
    memcpy(s, ev->data.scalar.value, len);
    s[len] = '\0';
    n->str = s;
    n->len = len;
    n->quoted = tag != NULL || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return 0;
}

static int on_start(builder *b, const yaml_event_t *ev, ynode_type type)
{
    const char *tag = type == YNODE_MAP
                          ? (const char *)ev->data.mapping_start.tag
                          : (const char *)ev->data.sequence_start.tag;
    const char *want = type == YNODE_MAP ? YTAG "map" : YTAG "seq";
    if (tag && strcmp(tag, want) != 0)
        return build_error(b, ev, "tag '%s' is not supported", tag);
    if (b->depth >= YAMLDOC_MAX_DEPTH)
        return build_error(b, ev, "nesting deeper than %u levels",
                           YAMLDOC_MAX_DEPTH);
    ynode *n = node_new(b, ev, type);
    if (!n)
        return -1;
    b->frames[b->depth].node = n;
    b->frames[b->depth].start = b->nkids;
    b->depth++;
    return 0;
}

static int key_cmp(const void *pa, const void *pb)
{
    const ynode *a = *(const ynode *const *)pa;
    const ynode *b = *(const ynode *const *)pb;
    int c = strcmp(a->str, b->str);
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->col < b->col ? -1 : (a->col > b->col);
}

/* Finds a repeated key in MAP `m`; returns the later duplicate or NULL.
 * Sets *oom on allocation failure. */
static const ynode *map_duplicate(const ynode *m, int *oom)
{
    size_t pairs = m->n / 2;
    const ynode *dup = NULL;
    *oom = 0;
    if (pairs <= 16) {
        for (size_t i = 1; i < pairs && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++)
                if (strcmp(m->items[2 * i]->str, m->items[2 * j]->str) == 0)
                    dup = m->items[2 * i];
        return dup;
    }
    const ynode **keys = malloc(pairs * sizeof *keys);
    if (!keys) {
        *oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < pairs; i++)
        keys[i] = m->items[2 * i];
    qsort(keys, pairs, sizeof *keys, key_cmp);
    for (size_t i = 1; i < pairs; i++) {
        if (strcmp(keys[i]->str, keys[i - 1]->str) != 0)
            continue;
        if (!dup || keys[i]->line < dup->line ||
            (keys[i]->line == dup->line && keys[i]->col < dup->col))
            dup = keys[i];
    }
    free(keys);
    return dup;
}

static int on_end(builder *b, const yaml_event_t *ev)
{
    frame *f = &b->frames[b->depth - 1];
    ynode *n = f->node;
    size_t count = b->nkids - f->start;
    if (count > 0) {
        if (count > SIZE_MAX / sizeof *n->items)
            return build_error(b, ev, "out of memory");
        n->items = arena_alloc(b->d, count * sizeof *n->items);
        if (!n->items)
            return build_error(b, ev, "out of memory");
        memcpy(n->items, b->kids + f->start, count * sizeof *n->items);
    }
    n->n = count;
    b->nkids = f->start;
    b->depth--;
    if (n->type == YNODE_MAP) {
        int oom;
        const ynode *dup = map_duplicate(n, &oom);
        if (oom)
            return build_error(b, ev, "out of memory");
        if (dup)
            return err_set("%s:%u:%u: duplicate key '%s'", b->d->name,
                           dup->line, dup->col, dup->str);
    }
    return 0;
}

/* Handles one event. Returns 1 at the end of the stream, 0 to go on, -1
 * with err set. The caller deletes the event. */
static int on_event(builder *b, const yaml_event_t *ev)
{
    if (event_anchor(ev))
        return build_error(b, ev, "anchors ('&%s') are not supported",
                           event_anchor(ev));
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_START_EVENT:
        if (b->docs++ > 0)
            return build_error(b, ev, "only one YAML document is allowed");
        return 0;
    case YAML_ALIAS_EVENT:
        return build_error(b, ev, "aliases ('*%s') are not supported",
                           (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, YNODE_MAP);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, YNODE_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return on_end(b, ev);
    default:
        return 0;
    }
}

static int check_encoding(const char *name, const unsigned char *s,
                          size_t len)
{
    if ((len >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) ||
                      (s[0] == 0xFE && s[1] == 0xFF))) ||
        (len >= 4 && s[0] == 0 && s[1] == 0 && s[2] == 0xFE && s[3] == 0xFF))
        return err_set("%s:1:1: UTF-16/UTF-32 input is not supported "
                       "(plans are UTF-8)", name);
    return 0;
}

yamldoc *yamldoc_parse(const char *name, const char *buf, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    builder b;
    int rc = -1, parser_ok = 0;
    yamldoc *d = calloc(1, sizeof *d);

    memset(&b, 0, sizeof b);
    if (!d || !(d->name = strdup(name ? name : "<yaml>"))) {
        err_set("%s: out of memory", name ? name : "<yaml>");
        goto cleanup;
    }
    b.d = d;
    b.buf = buf;
    b.len = len;
    if (len > YAMLDOC_MAX_INPUT) {
        err_set("%s: %zu bytes of YAML is over the limit of %u bytes",
                d->name, len, YAMLDOC_MAX_INPUT);
        goto cleanup;
    }
    if (check_encoding(d->name, (const unsigned char *)buf, len) < 0)
        goto cleanup;
    memset(&parser, 0, sizeof parser);
    if (!yaml_parser_initialize(&parser)) {
        err_set("%s: out of memory", d->name);
        goto cleanup;
    }
    parser_ok = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            parser_error(&b, &parser);
            goto cleanup;
        }
        int r = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (r < 0)
            goto cleanup;
        if (r > 0)
            break;
    }
    rc = 0;
cleanup:
    if (parser_ok)
        yaml_parser_delete(&parser);
    free(b.kids);
    if (rc < 0) {
        yamldoc_free(d);
        return NULL;
    }
    return d;
}

yamldoc *yamldoc_load(const char *path)
{
    struct stat st;
    char *buf = NULL;
    yamldoc *d = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set("%s: not a regular file", path);
        goto cleanup;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > YAMLDOC_MAX_INPUT) {
        err_set("%s: file of %lld bytes is over the limit of %u bytes for "
                "YAML", path, (long long)st.st_size, YAMLDOC_MAX_INPUT);
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        err_set("%s: out of memory", path);
        goto cleanup;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_set("%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        got += (size_t)r;
    }
    d = yamldoc_parse(path, buf, got);
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    return d;
}

const ynode *yamldoc_root(const yamldoc *d)
{
    return d ? d->root : NULL;
}

const char *yamldoc_name(const yamldoc *d)
{
    return d ? d->name : "";
}

void yamldoc_free(yamldoc *d)
{
    if (!d)
        return;
    ablock *b = d->blocks;
    while (b) {
        ablock *next = b->next;
        free(b);
        b = next;
    }
    free(d->name);
    free(d);
}
