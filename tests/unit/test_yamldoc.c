/* test_yamldoc.c: the bounded YAML tree (tui/core/yamldoc.h). */
#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/yamldoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static yamldoc *parse(const char *s)
{
    return yamldoc_parse("t.yaml", s, strlen(s));
}

/* Parses `s`, expects failure with a message starting with `prefix`
 * and containing `sub`. */
static void expect_fail(const char *s, size_t len, const char *prefix,
                        const char *sub)
{
    err_clear();
    yamldoc *d = yamldoc_parse("t.yaml", s, len);
    CHECK(d == NULL);
    yamldoc_free(d);
    const char *m = err_msg();
    int ok = strncmp(m, prefix, strlen(prefix)) == 0 && strstr(m, sub);
    if (!ok)
        fprintf(stderr, "  message: %s\n  wanted: %s ... %s\n", m, prefix, sub);
    CHECK(ok);
}

static void test_tree(void)
{
    yamldoc *d = parse("a: 1\nb:\n  - x\n  - 'y z'\nc: {k: v}\n");
    CHECK(d != NULL);
    if (!d)
        return;
    const ynode *r = yamldoc_root(d);
    CHECK(r && r->type == YNODE_MAP);
    CHECK_EQ_U64(r->n, 6);
    const ynode *a = ynode_get(r, "a");
    unsigned long long u = 0;
    CHECK(a && ynode_u64(d, a, &u) == 0);
    CHECK_EQ_U64(u, 1);
    CHECK(a->line == 1 && a->col == 4);
    CHECK_STR(a->key, "a");
    const ynode *b = ynode_get(r, "b");
    CHECK(b && b->type == YNODE_SEQ && b->n == 2);
    CHECK(b->line == 3 && b->col == 3);
    CHECK_STR(b->items[1]->str, "y z");
    CHECK(b->items[1]->quoted == 1);
    CHECK(b->items[0]->quoted == 0);
    CHECK(b->items[0]->key == NULL);
    const ynode *c = ynode_get(r, "c");
    CHECK(c && c->type == YNODE_MAP);
    CHECK_STR(ynode_get(c, "k")->str, "v");
    CHECK(ynode_get(r, "zz") == NULL);
    CHECK(ynode_get(b, "x") == NULL);
    CHECK_STR(yamldoc_name(d), "t.yaml");
    yamldoc_free(d);

    d = parse("");
    CHECK(d != NULL && yamldoc_root(d) == NULL);
    yamldoc_free(d);
    d = parse("# only a comment\n");
    CHECK(d != NULL && yamldoc_root(d) == NULL);
    yamldoc_free(d);
    yamldoc_free(NULL);
}

static void test_conversions(void)
{
    yamldoc *d = parse("i: -42\nu: 18446744073709551615\nbig: "
                       "18446744073709551616\nf: 3.0e-4\ng: 7\nt: true\n"
                       "F: False\nq: \"12\"\ns: [1]\nh: 1e999\nneg: -1\n"
                       "bad: 1.2.3\nn: null\nyes: yes\n");
    CHECK(d != NULL);
    if (!d)
        return;
    const ynode *r = yamldoc_root(d);
    long long i = 0;
    unsigned long long u = 0;
    double f = 0;
    int b = -1;
    const char *s = NULL;
    CHECK(ynode_i64(d, ynode_get(r, "i"), &i) == 0 && i == -42);
    CHECK(ynode_u64(d, ynode_get(r, "u"), &u) == 0 && u == ~0ull);
    CHECK(ynode_u64(d, ynode_get(r, "big"), &u) == -1);
    CHECK(strstr(err_msg(), "t.yaml:3:6: expected an integer in range for "
                            "'big'") != NULL);
    CHECK(ynode_u64(d, ynode_get(r, "neg"), &u) == -1);
    CHECK(ynode_double(d, ynode_get(r, "f"), &f) == 0 && f == 3.0e-4);
    CHECK(ynode_double(d, ynode_get(r, "g"), &f) == 0 && f == 7.0);
    CHECK(ynode_double(d, ynode_get(r, "h"), &f) == -1);
    CHECK(ynode_double(d, ynode_get(r, "bad"), &f) == -1);
    CHECK(ynode_double(d, ynode_get(r, "n"), &f) == -1);
    CHECK(ynode_bool(d, ynode_get(r, "t"), &b) == 0 && b == 1);
    CHECK(ynode_bool(d, ynode_get(r, "F"), &b) == 0 && b == 0);
    CHECK(ynode_bool(d, ynode_get(r, "yes"), &b) == -1);
    /* quoted "12" is a string, never a number */
    CHECK(ynode_u64(d, ynode_get(r, "q"), &u) == -1);
    CHECK_STR(err_msg(), "t.yaml:8:4: expected an integer for 'q', found a "
                         "quoted string");
    CHECK(ynode_string(d, ynode_get(r, "q"), &s) == 0);
    CHECK_STR(s, "12");
    CHECK(ynode_string(d, ynode_get(r, "n"), &s) == 0);
    CHECK_STR(s, "null");
    CHECK(ynode_string(d, ynode_get(r, "s"), &s) == -1);
    CHECK_STR(err_msg(), "t.yaml:9:4: expected a string for 's', found a "
                         "list");
    CHECK(ynode_i64(d, ynode_get(r, "s"), &i) == -1);
    CHECK(ynode_error(d, r, "x %d", 5) == -1);
    CHECK_STR(err_msg(), "t.yaml:1:1: x 5");
    CHECK(ynode_error(d, NULL, "missing") == -1);
    CHECK_STR(err_msg(), "t.yaml: missing");
    yamldoc_free(d);
}

static void test_check_keys(void)
{
    static const char *const allowed[] = {"a", "b", NULL};
    yamldoc *d = parse("a: 1\nb: 2\n");
    CHECK(d && ynode_check_keys(d, yamldoc_root(d), allowed) == 0);
    yamldoc_free(d);
    d = parse("a: 1\n  \nbee: 2\n");
    CHECK(d && ynode_check_keys(d, yamldoc_root(d), allowed) == -1);
    CHECK_STR(err_msg(), "t.yaml:3:1: unknown key 'bee' (expected one of: "
                         "a, b)");
    yamldoc_free(d);
    d = parse("- 1\n");
    CHECK(d && ynode_check_keys(d, yamldoc_root(d), allowed) == -1);
    yamldoc_free(d);
}

static void test_refusals(void)
{
    /* syntax */
    expect_fail("a: [1, 2\nb: 3\n", 14, "t.yaml:", "expected");
    expect_fail("a: b: c\n", 8, "t.yaml:1:5:", "mapping values are not");
    /* anchors and aliases, billion laughs */
    expect_fail("a: &x 1\nb: *x\n", 14, "t.yaml:1:4:", "anchors");
    expect_fail("&a [*a]\n", 8, "t.yaml:1:1:", "anchors ('&a')");
    expect_fail("a: *x\n", 6, "t.yaml:1:4:", "aliases ('*x')");
    const char *laughs = "a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a]\nc: [*b,*b]\n";
    expect_fail(laughs, strlen(laughs), "t.yaml:1:4:", "anchors");
    /* tags */
    expect_fail("a: !!python/object x\n", 21, "t.yaml:1:4:",
                "tag 'tag:yaml.org,2002:python/object' is not supported");
    expect_fail("a: !foo x\n", 10, "t.yaml:1:4:", "not supported");
    /* duplicate keys, small and large maps */
    expect_fail("a: 1\nb: 2\na: 3\n", 15, "t.yaml:3:1:", "duplicate key 'a'");
    {
        char big[2000];
        size_t n = 0;
        for (int i = 0; i < 40; i++)
            n += (size_t)snprintf(big + n, sizeof big - n, "k%d: %d\n", i, i);
        n += (size_t)snprintf(big + n, sizeof big - n, "k7: again\n");
        expect_fail(big, n, "t.yaml:41:1:", "duplicate key 'k7'");
    }
    /* complex keys */
    expect_fail("? [a]\n: 1\n", 10, "t.yaml:1:3:", "mapping keys must be");
    /* multiple documents */
    expect_fail("a: 1\n---\nb: 2\n", 14, "t.yaml:2:1:", "only one YAML");
    /* invalid UTF-8, UTF-16 BOM, NUL */
    expect_fail("a: b\nc: \xff\n", 10, "t.yaml:2:4:", "UTF-8");
    expect_fail("a: \xc3\x28\n", 7, "t.yaml:", "UTF-8");
    expect_fail("\xff\xfe" "a\0:\0 \0" "1\0", 10, "t.yaml:1:1:", "UTF-16");
    expect_fail("a: \"x\\0y\"\n", 10, "t.yaml:1:4:", "NUL");
    /* depth: 10,000 brackets, flow and block */
    {
        size_t n = 10000;
        char *s = malloc(2 * n + 2);
        memset(s, '[', n);
        memset(s + n, ']', n);
        s[2 * n] = '\n';
        expect_fail(s, 2 * n + 1, "t.yaml:1:65:", "nesting deeper than 64");
        free(s);
    }
    {
        size_t cap = 200 * 210, n = 0;
        char *s = malloc(cap);
        for (int i = 0; i < 100; i++) {
            memset(s + n, ' ', (size_t)i);
            n += (size_t)i;
            s[n++] = 'k';
            s[n++] = ':';
            s[n++] = '\n';
        }
        expect_fail(s, n, "t.yaml:", "nesting deeper than 64");
        free(s);
    }
    /* one scalar over the limit */
    {
        size_t n = YAMLDOC_MAX_SCALAR + 10;
        char *s = malloc(n + 8);
        memcpy(s, "a: ", 3);
        memset(s + 3, 'x', n);
        s[3 + n] = '\n';
        expect_fail(s, n + 4, "t.yaml:1:4:", "over the limit");
        free(s);
    }
    /* input over the limit (refused before parsing: no need to fill it) */
    {
        char *s = malloc(16);
        memcpy(s, "a: 1\n", 5);
        err_clear();
        CHECK(yamldoc_parse("t.yaml", s, (size_t)YAMLDOC_MAX_INPUT + 1) == NULL);
        CHECK(strstr(err_msg(), "over the limit") != NULL);
        free(s);
    }
    /* a message names the file even with a long scalar key */
    expect_fail("x: [\n", 5, "t.yaml:", "");
}

static void test_load(void)
{
    char dir[] = "/tmp/test_yamldoc.XXXXXX";
    char path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("version: 1\nlist: [a, b]\n", f);
    fclose(f);
    yamldoc *d = yamldoc_load(path);
    CHECK(d != NULL);
    CHECK_STR(yamldoc_name(d), path);
    CHECK(d && ynode_get(yamldoc_root(d), "list")->n == 2);
    yamldoc_free(d);
    f = fopen(path, "w");
    fputs("a: 1\nb: [\n", f);
    fclose(f);
    d = yamldoc_load(path);
    CHECK(d == NULL);
    CHECK(strncmp(err_msg(), path, strlen(path)) == 0);
    /* over the input limit by size: refused without reading */
    CHECK(truncate(path, (off_t)YAMLDOC_MAX_INPUT + 1) == 0);
    CHECK(yamldoc_load(path) == NULL);
    CHECK(strstr(err_msg(), "over the limit") != NULL);
    unlink(path);
    CHECK(yamldoc_load(path) == NULL);
    CHECK(strstr(err_msg(), "No such file") != NULL);
    CHECK(yamldoc_load(dir) == NULL);
    CHECK(strstr(err_msg(), "not a regular file") != NULL);
    rmdir(dir);
}

int main(void)
{
    test_tree();
    test_conversions();
    test_check_keys();
    test_refusals();
    test_load();
    return check_report();
}
