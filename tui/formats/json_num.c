/* json_num.c: strict JSON intake (see json_num.h). */
#include "json_num.h"

#include <stddef.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF too). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_num_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
           c == 'e' || c == 'E';
}

static int odd_push(json_nums *s, uint64_t ordinal)
{
    if (s->nodd == s->odd_cap) {
        size_t ncap = s->odd_cap ? s->odd_cap * 2 : 16;
        uint64_t *p = realloc(s->odd, ncap * sizeof *p);
        if (!p)
            return err_set("out of memory");
        s->odd = p;
        s->odd_cap = ncap;
    }
    s->odd[s->nodd++] = ordinal;
    return 0;
}

/* Scans a string token starting at the quote p[*i]; leaves *i after the
 * closing quote (or at n when unterminated: cJSON reports that). */
static int scan_string(const unsigned char *p, size_t n, size_t *i,
                       const char *what)
{
    size_t j = *i + 1;
    while (j < n && p[j] != '"') {
        unsigned char b = p[j];
        if (b == '\\') {
            if (j + 5 < n && p[j + 1] == 'u' && memcmp(p + j + 2, "0000", 4)
                == 0)
                return err_set("%s has a \\u0000 escape at byte %zu", what,
                               j);
            j += 2;
        } else if (b < 0x20) {
            return err_set("%s has control byte 0x%02x inside a string at "
                           "byte %zu", what, b, j);
        } else if (b >= 0x80) {
            size_t k = utf8_seq_len(p + j, n - j);
            if (!k)
                return err_set("%s is not valid UTF-8 at byte %zu", what, j);
            j += k;
        } else {
            j++;
        }
    }
    *i = j < n ? j + 1 : n;
    return 0;
}

/* The byte scan described in json_num.h. */
static int scan_text(json_nums *s, const unsigned char *p, size_t n,
                     const char *what)
{
    size_t depth = 0, i = 0;
    int in_meta = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (is_ws(c) || c == ':') {
            i++;
        } else if (c == '"') {
            size_t start = i;
            if (scan_string(p, n, &i, what))
                return -1;
            size_t k = i;
            while (k < n && is_ws(p[k]))
                k++;
            int key = k < n && p[k] == ':';
            if (key && depth == 1) {
                s->members++;
                if (i - start == 14 && memcmp(p + start, "\"__metadata__\"",
                                              14) == 0)
                    in_meta = 1;
            }
            if (in_meta)
                s->meta_values++;
            else
                s->values++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < n && is_num_char(p[j]))
                j++;
            int plain = p[i] != '-' && (p[i] != '0' || j - i == 1);
            for (size_t k = i; plain && k < j; k++)
                if (p[k] < '0' || p[k] > '9')
                    plain = 0;
            if (!plain && odd_push(s, s->ordinal))
                return -1;
            s->ordinal++;
            if (in_meta)
                s->meta_values++;
            else
                s->values++;
            i = j;
        } else if (c < 0x20) {
            return err_set("%s has control byte 0x%02x at byte %zu", what, c,
                           i);
        } else if (c >= 0x80) {
            size_t k = utf8_seq_len(p + i, n - i);
            if (!k)
                return err_set("%s is not valid UTF-8 at byte %zu", what, i);
            i += k;
        } else {
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (depth)
                    depth--;
                if (depth == 0)
                    in_meta = 0;
            } else if (c == ',' && depth == 1) {
                in_meta = 0;
            }
            if (c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n') {
                if (in_meta)
                    s->meta_values++;
                else
                    s->values++;
            }
            i++;
        }
    }
    s->ordinal = 0;
    return 0;
}


/* --- the bump arena behind cJSON (see json_num.h) ------------------- */

#define ARENA_CHUNK (1u << 20)

typedef struct arena_chunk {
    struct arena_chunk *prev;
    size_t used, cap;
    max_align_t data[];
} arena_chunk;

static arena_chunk *arena_top;
static arena_chunk *arena_spare; /* released chunks kept for reuse */

static void *arena_alloc(size_t n)
{
    size_t a = sizeof(max_align_t);
    if (n > SIZE_MAX - 2 * a)
        return NULL;
    n = (n + a - 1) / a * a;
    if (!arena_top || arena_top->cap - arena_top->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        arena_chunk *c = NULL;
        if (arena_spare && arena_spare->cap >= cap) {
            c = arena_spare;
            arena_spare = c->prev;
        } else if (!(c = malloc(sizeof *c + cap))) {
            return NULL;
        } else {
            c->cap = cap;
        }
        c->prev = arena_top;
        c->used = 0;
        arena_top = c;
    }
    void *p = (char *)arena_top->data + arena_top->used;
    arena_top->used += n;
    return p;
}

static void arena_free(void *p)
{
    (void)p; /* given back all at once by json_num_free */
}

static void arena_mark(json_nums *s)
{
    s->arena_mark = arena_top;
    s->arena_used = arena_top ? arena_top->used : 0;
    s->arena_set = 1;
}

/* Gives back the chunks made after the mark (kept for reuse while an
 * outer tree lives, freed when none does) and rewinds the marked one. */
static void arena_release(const json_nums *s)
{
    while (arena_top && arena_top != s->arena_mark) {
        arena_chunk *prev = arena_top->prev;
        arena_top->prev = arena_spare;
        arena_spare = arena_top;
        arena_top = prev;
    }
    if (arena_top)
        arena_top->used = s->arena_used;
    if (!arena_top) {
        while (arena_spare) {
            arena_chunk *prev = arena_spare->prev;
            free(arena_spare);
            arena_spare = prev;
        }
    }
}

/* cJSON with the arena's hooks for one parse, then the defaults again,
 * so that any other cJSON use keeps plain malloc and free. */
static cJSON *arena_parse(const char *text, size_t len, const char **end)
{
    cJSON_Hooks h = {arena_alloc, arena_free};
    cJSON_InitHooks(&h);
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, end, 0);
    cJSON_InitHooks(NULL);
    return root;
}

cJSON *json_num_parse(json_nums *s, const char *text, size_t len,
                      const char *what, uint64_t max_values,
                      uint64_t values_per_member, uint64_t max_meta_values)
{
    cJSON *root = NULL;
    const char *end = NULL;
    memset(s, 0, sizeof *s);
    arena_mark(s);
    if (scan_text(s, (const unsigned char *)text, len, what))
        goto fail;
    if (max_values && s->values + s->meta_values > max_values) {
        err_set("%s holds %llu JSON values (limit %llu)", what,
                (unsigned long long)(s->values + s->meta_values),
                (unsigned long long)max_values);
        goto fail;
    }
    if (max_meta_values && s->meta_values > max_meta_values) {
        err_set("%s holds %llu JSON values in __metadata__ (limit %llu)",
                what, (unsigned long long)s->meta_values,
                (unsigned long long)max_meta_values);
        goto fail;
    }
    if (values_per_member &&
        s->values > values_per_member * (s->members + 8)) {
        err_set("%s holds %llu JSON values for %llu entries (limit %llu "
                "per entry)", what, (unsigned long long)s->values,
                (unsigned long long)s->members,
                (unsigned long long)values_per_member);
        goto fail;
    }
    root = arena_parse(text, len, &end);
    if (!root) {
        size_t at = end && end >= text && end <= text + len
                        ? (size_t)(end - text) : 0;
        err_set("%s is not valid JSON (error near byte %zu)", what, at);
        goto fail;
    }
    for (size_t k = (size_t)(end - text); k < len; k++) {
        if (!is_ws((unsigned char)text[k])) {
            err_set("%s has bytes after the JSON value at byte %zu", what, k);
            goto fail;
        }
    }
    return root;
fail:
    return NULL; /* the tree's memory goes with json_num_free */
}

int json_num_get_u53(json_nums *s, const cJSON *item, uint64_t *out)
{
    uint64_t ord = s->ordinal;
    if (!cJSON_IsNumber(item))
        return err_set("value is not a number");
    s->ordinal++;
    while (s->cursor < s->nodd && s->odd[s->cursor] < ord)
        s->cursor++;
    int odd = s->cursor < s->nodd && s->odd[s->cursor] == ord;
    double d = item->valuedouble;
    if (d < 0)
        return err_set("value %.17g is negative", d);
    if (isnan(d) || d != floor(d))
        return err_set("value %.17g is not an integer", d);
    if (d >= JSON_NUM_LIMIT)
        return err_set("value %.17g is 2^53 or more: offsets and dimensions "
                       "above 2^53 are refused", d);
    if (odd)
        return err_set("value %.17g is not written as a plain integer", d);
    *out = (uint64_t)d;
    return 0;
}

void json_num_skip(json_nums *s, const cJSON *item)
{
    if (cJSON_IsNumber(item)) {
        s->ordinal++;
        return;
    }
    for (const cJSON *c = item->child; c; c = c->next)
        json_num_skip(s, c);
}

void json_num_free(json_nums *s)
{
    if (!s)
        return;
    if (s->arena_set)
        arena_release(s);
    free(s->odd);
    memset(s, 0, sizeof *s);
}
