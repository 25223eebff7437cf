/* yamldoc.h: a small, bounded YAML document tree read with libyaml's
 * event API, for plans and presets.
 *
 * Only what plans and presets need: block or flow mappings, sequences and
 * scalars, UTF-8 only. Anchors, aliases, tags other than the core ones and
 * multiple documents are refused. Every node keeps its line and column
 * (1-based) so callers can report "file:line:col: problem".
 * Limits (docs/limits.md): input size YAMLDOC_MAX_INPUT, nesting depth
 * YAMLDOC_MAX_DEPTH, scalar bytes YAMLDOC_MAX_SCALAR, nodes
 * YAMLDOC_MAX_NODES.
 */
#ifndef TUI_CORE_YAMLDOC_H
#define TUI_CORE_YAMLDOC_H

#include <stddef.h>

#define YAMLDOC_MAX_INPUT (64u << 20)
#define YAMLDOC_MAX_DEPTH 64u
#define YAMLDOC_MAX_SCALAR (1u << 20)
#define YAMLDOC_MAX_NODES 10000000u

typedef enum { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ } ynode_type;

typedef struct ynode ynode;
struct ynode {
    ynode_type type;
    unsigned line, col;   /* 1-based position of the node's start */
    const char *str;      /* SCALAR: NUL-terminated value (arena) */
    size_t len;           /* SCALAR: its length */
    int quoted;           /* SCALAR: 1 when written quoted (never a number) */
    ynode **items;        /* MAP: keys and values alternate; SEQ: items */
    size_t n;             /* MAP: 2 * pairs; SEQ: items */
    const char *key;      /* a MAP's value: its key (arena), else NULL;
                             conversion errors name it ("for 'lr'") */
};

typedef struct yamldoc yamldoc;

/* Parses `len` bytes of YAML. `name` (the file name) prefixes messages.
 * Returns the document (root via yamldoc_root; an empty document has a
 * NULL root), or NULL with err set to "name:line:col: problem".
 * The input is not retained. */
yamldoc *yamldoc_parse(const char *name, const char *buf, size_t len);

/* Reads and parses a file (size checked against YAMLDOC_MAX_INPUT).
 * Returns NULL with err set ("path: No such file..." or as above). */
yamldoc *yamldoc_load(const char *path);

/* The root node, or NULL for an empty document. Borrowed. */
const ynode *yamldoc_root(const yamldoc *d);

/* The name given at parse time. Borrowed. */
const char *yamldoc_name(const yamldoc *d);

/* Frees the document and every node; NULL-safe. */
void yamldoc_free(yamldoc *d);

/* The value for `key` in a MAP node, or NULL. Duplicate keys are refused
 * at parse time, so there is at most one. */
const ynode *ynode_get(const ynode *map, const char *key);

/* Sets err to "docname:line:col: <fmt...>" for node `n` and returns -1. */
int ynode_error(const yamldoc *d, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Scalar conversions. Each returns 0, or -1 with err set through
 * ynode_error ("expected an integer", "expected a string", ...) when the
 * node is not a scalar of that form or out of range. */
int ynode_u64(const yamldoc *d, const ynode *n, unsigned long long *out);
int ynode_i64(const yamldoc *d, const ynode *n, long long *out);
int ynode_double(const yamldoc *d, const ynode *n, double *out);
int ynode_bool(const yamldoc *d, const ynode *n, int *out);
/* A string scalar (quoted or plain, but a plain scalar that reads as a
 * number, bool or null is still accepted as text). Borrowed pointer. */
int ynode_string(const yamldoc *d, const ynode *n, const char **out);

/* Checks that every key of MAP node `map` is in the NULL-terminated list
 * `allowed`; an unknown key gives "line:col: unknown key 'x' (expected one
 * of: a, b, c)", with "; did you mean 'y'?" after the key when one of
 * `allowed` is close (suggest.h). Returns 0 or -1. */
int ynode_check_keys(const yamldoc *d, const ynode *map,
                     const char *const *allowed);

#endif
