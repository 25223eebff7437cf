/* pickle.c: the symbolic pickle stack machine (see pickle.h). */
#include "pickle_int.h"

#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

/* ---- the machine -------------------------------------------------- */

typedef struct {
    pickle_machine *pm;
    const unsigned char *buf;
    size_t len, pos, op_pos;
    const pickle_options *opt;
    pv **stack;
    size_t sn, scap;
    size_t *marks;
    size_t mn, mcap;
    pv **memo;
    size_t memo_cap;     /* allocated slots */
    size_t memo_next;    /* MEMOIZE index */
    uint64_t max_memo;
    pickle_frame frame;
    pickle_pending pending;
} vm;

static int vm_fail(vm *m, const char *what)
{
    return err_set("%s at offset %zu", what, m->op_pos);
}

static int vm_need(vm *m, uint64_t n)
{
    if (n > m->len - m->pos)
        return err_set("truncated pickle: %llu bytes needed at offset %zu, "
                       "%zu left", (unsigned long long)n, m->pos,
                       m->len - m->pos);
    return 0;
}

static uint64_t vm_le(vm *m, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)m->buf[m->pos + i] << (8 * i);
    m->pos += n;
    return v;
}

static int vm_push(vm *m, pv *v)
{
    if (!v)
        return -1;
    if (!v->off)
        v->off = m->op_pos;
    if (m->sn >= PICKLE_MAX_STACK)
        return err_set("pickle stack deeper than %u values",
                       PICKLE_MAX_STACK);
    if (m->sn == m->scap) {
        size_t nc = m->scap ? m->scap * 2 : 64;
        pv **ns = realloc(m->stack, nc * sizeof *ns);
        if (!ns)
            return err_set("out of memory");
        m->stack = ns;
        m->scap = nc;
    }
    m->stack[m->sn++] = v;
    return 0;
}

static size_t vm_floor(const vm *m)
{
    return m->mn ? m->marks[m->mn - 1] : 0;
}

static pv *vm_pop(vm *m)
{
    if (m->sn <= vm_floor(m)) {
        vm_fail(m, "pickle stack underflow");
        return NULL;
    }
    return m->stack[--m->sn];
}

static pv *vm_top(vm *m)
{
    if (m->sn <= vm_floor(m)) {
        vm_fail(m, "pickle stack underflow");
        return NULL;
    }
    return m->stack[m->sn - 1];
}

/* Pops to the last MARK; the items are stack[*start .. *end). */
static int vm_pop_mark(vm *m, size_t *start, size_t *end)
{
    if (m->mn == 0)
        return vm_fail(m, "no MARK for this opcode");
    *start = m->marks[--m->mn];
    *end = m->sn;
    m->sn = *start;
    return 0;
}

static int vm_memo_put(vm *m, uint64_t idx)
{
    pv *v = vm_top(m);
    if (!v)
        return -1;
    if (idx >= m->max_memo)
        return vm_fail(m, "memo index beyond the memo limit");
    if (idx >= m->memo_cap) {
        size_t nc = m->memo_cap ? m->memo_cap : 64;
        while (nc <= idx)
            nc *= 2;
        if (nc > m->max_memo)
            nc = (size_t)m->max_memo;
        pv **nm = realloc(m->memo, nc * sizeof *nm);
        if (!nm)
            return err_set("out of memory");
        memset(nm + m->memo_cap, 0, (nc - m->memo_cap) * sizeof *nm);
        m->memo = nm;
        m->memo_cap = nc;
    }
    m->memo[idx] = v;
    return 0;
}

static int vm_memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return vm_fail(m, "unknown memo index");
    return vm_push(m, m->memo[idx]);
}

static pv *vm_seq(vm *m, pv_type type, size_t start, size_t end)
{
    pv *t = pickle_new(m->pm, type);
    if (!t)
        return NULL;
    for (size_t i = start; i < end; i++)
        if (pickle_deepen(t, m->stack[i]) ||
            pickle_push_item(m->pm, &t->u.seq.items, &t->u.seq.n,
                             &t->u.seq.cap, m->stack[i]))
            return NULL;
    return t;
}

static int vm_string(vm *m, pv_type type, uint64_t n)
{
    if (vm_need(m, n))
        return -1;
    pv *v = pickle_new(m->pm, type);
    if (!v || !(v->u.str.s = pickle_strdup(m->pm, m->buf + m->pos, (size_t)n)))
        return -1;
    v->u.str.len = (size_t)n;
    m->pos += (size_t)n;
    return vm_push(m, v);
}

/* A text line (protocol 0 operand) without its '\n'. */
static int vm_line(vm *m, const unsigned char **s, size_t *n)
{
    const unsigned char *nl = memchr(m->buf + m->pos, '\n', m->len - m->pos);
    if (!nl)
        return err_set("truncated pickle: unterminated line at offset %zu",
                       m->pos);
    *s = m->buf + m->pos;
    *n = (size_t)(nl - *s);
    m->pos += *n + 1;
    return 0;
}

static int vm_line_int(vm *m, int64_t *out, int *is_bool)
{
    const unsigned char *s;
    size_t n;
    char tmp[32];
    if (vm_line(m, &s, &n))
        return -1;
    if (n > 0 && s[n - 1] == 'L')
        n--;
    if (n == 0 || n >= sizeof tmp)
        return vm_fail(m, "bad or over-long text integer");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *is_bool = n == 2 && (tmp[1] == '0' || tmp[1] == '1') && tmp[0] == '0';
    char *e;
    *out = strtoll(tmp, &e, 10);
    if (*e)
        return vm_fail(m, "bad text integer");
    return 0;
}

static int vm_int(vm *m, int64_t v)
{
    pv *x = pickle_new(m->pm, PV_INT);
    if (x)
        x->u.i.v = v;
    return vm_push(m, x);
}

/* LONG1 / LONG4: n bytes, little-endian two's complement. */
static int vm_long(vm *m, uint64_t n)
{
    if (vm_need(m, n))
        return -1;
    pv *x = pickle_new(m->pm, PV_INT);
    if (!x)
        return -1;
    if (n > 8) {
        x->u.i.big = 1;
        m->pos += (size_t)n;
    } else if (n > 0) {
        uint64_t u = vm_le(m, (unsigned)n);
        if (n < 8 && (u >> (8 * n - 1)) & 1)
            u |= ~(uint64_t)0 << (8 * n);
        x->u.i.v = (int64_t)u;
    }
    return vm_push(m, x);
}

static int vm_global(vm *m, const char *mod, size_t ml, const char *name,
                     size_t nl, int map_py2)
{
    pv *g = pickle_new(m->pm, PV_GLOBAL);
    if (!g || !(g->u.g.module = pickle_strdup(m->pm, (const void *)mod, ml)) ||
        !(g->u.g.name = pickle_strdup(m->pm, (const void *)name, nl)))
        return -1;
    if (memchr(mod, '\0', ml) || memchr(name, '\0', nl))
        return err_set("unsafe global with a NUL byte refused");
    if (pickle_resolve_global(g, m->opt->torchscript, map_py2))
        return -1;
    return vm_push(m, g);
}

static int vm_persid(vm *m)
{
    pv *pid = vm_pop(m);
    if (!pid)
        return -1;
    if (pid->type != PV_TUPLE || pid->u.seq.n < 5 ||
        pid->u.seq.items[0]->type != PV_STR ||
        strcmp(pid->u.seq.items[0]->u.str.s, "storage") != 0)
        return vm_fail(m, "persistent id is not a ('storage', ...) tuple");
    pv *const *a = pid->u.seq.items;
    if (a[1]->type != PV_GLOBAL || a[1]->u.g.kind != PG_STORAGE)
        return vm_fail(m, "persistent id storage type is not a torch "
                          "storage class");
    if (a[1]->u.g.dt == DT_NONE)
        return err_set("unsupported storage type torch.%s", a[1]->u.g.name);
    if (a[2]->type != PV_STR || a[3]->type != PV_STR ||
        a[4]->type != PV_INT || a[4]->u.i.big || a[4]->u.i.v < 0)
        return vm_fail(m, "persistent id has a bad key, location or size");
    pv *s = pickle_new(m->pm, PV_STORAGE);
    if (!s)
        return -1;
    s->u.st.key = a[2]->u.str.s;
    s->u.st.location = a[3]->u.str.s;
    s->u.st.dt = a[1]->u.g.dt;
    s->u.st.untyped = strcmp(a[1]->u.g.name, "UntypedStorage") == 0 ||
                      strcmp(a[1]->u.g.name, "TypedStorage") == 0;
    s->u.st.numel = (uint64_t)a[4]->u.i.v;
    return vm_push(m, s);
}

static int vm_build(vm *m)
{
    pv *state = vm_pop(m);
    pv *obj = state ? vm_top(m) : NULL;
    if (!obj)
        return -1;
    switch (obj->type) {
    case PV_DICT:   /* OrderedDict.__dict__ (e.g. _metadata): ignored */
    case PV_TENSOR: /* tensor attributes: ignored */
        return 0;
    case PV_OBJECT:
        obj->u.o.pending = 0;
        obj->u.o.state = state;
        return pickle_deepen(obj, state);
    default:
        return err_set("BUILD on a %s refused at offset %zu",
                       pickle_type_name(obj), m->op_pos);
    }
}

static int vm_setitems(vm *m, size_t start, size_t end)
{
    pv *d = vm_top(m);
    if (!d)
        return -1;
    if (d->type != PV_DICT)
        return err_set("SETITEM on a %s refused at offset %zu",
                       pickle_type_name(d), m->op_pos);
    if ((end - start) % 2)
        return vm_fail(m, "SETITEMS with an odd number of values");
    for (size_t i = start; i < end; i += 2)
        if (pickle_dict_set(m->pm, d, m->stack[i], m->stack[i + 1]))
            return -1;
    return 0;
}

static int vm_appends(vm *m, size_t start, size_t end)
{
    pv *l = vm_top(m);
    if (!l)
        return -1;
    if (l->type != PV_LIST)
        return err_set("APPEND on a %s refused at offset %zu",
                       pickle_type_name(l), m->op_pos);
    for (size_t i = start; i < end; i++)
        if (pickle_deepen(l, m->stack[i]) ||
            pickle_push_item(m->pm, &l->u.seq.items, &l->u.seq.n,
                             &l->u.seq.cap, m->stack[i]))
            return -1;
    return 0;
}

static int vm_reduce(vm *m, int newobj)
{
    pv *args = vm_pop(m);
    pv *fn = args ? vm_pop(m) : NULL;
    if (!fn)
        return -1;
    if (newobj && (fn->type != PV_GLOBAL ||
                   (fn->u.g.kind != PG_SCRIPT_CLASS &&
                    fn->u.g.kind != PG_ORDEREDDICT &&
                    fn->u.g.kind != PG_OPAQUE)))
        return err_set("NEWOBJ of a %s%s%s%s refused at offset %zu",
                       pickle_type_name(fn),
                       fn->type == PV_GLOBAL ? " '" : "",
                       fn->type == PV_GLOBAL ? fn->u.g.module : "",
                       fn->type == PV_GLOBAL ? "'" : "", m->op_pos);
    pv *r = pickle_call(m->pm, fn, args, 0);
    if (!r)
        return err_prefix("offset %zu", m->op_pos);
    if (newobj && fn->u.g.needs_build && r->type == PV_OBJECT &&
        pickle_pending_add(&m->pending, r))
        return -1;
    return vm_push(m, r);
}

/* Runs one opcode. Returns 0 to go on, 1 at STOP, -1 with err set. */
static int vm_step(vm *m, int op)
{
    size_t s = 0, e = 0;
    pv *v, *w;
    int64_t iv;
    int is_bool;
    const unsigned char *l1, *l2;
    size_t n1, n2;

    switch (op) {
    case 0x80: /* PROTO */
        if (vm_need(m, 1))
            return -1;
        if (m->buf[m->pos++] > 5)
            return vm_fail(m, "unsupported pickle protocol");
        return 0;
    case 0x95: /* FRAME */
        if (vm_need(m, 8))
            return -1;
        return pickle_frame_open(&m->frame, m->op_pos, m->pos,
                                 vm_le(m, 8), m->len);
    case '.': /* STOP */
        return 1;
    case '(': /* MARK */
        if (m->mn >= PICKLE_MAX_STACK)
            return vm_fail(m, "too many open MARKs");
        if (m->mn == m->mcap) {
            size_t nc = m->mcap ? m->mcap * 2 : 32;
            size_t *nm = realloc(m->marks, nc * sizeof *nm);
            if (!nm)
                return err_set("out of memory");
            m->marks = nm;
            m->mcap = nc;
        }
        m->marks[m->mn++] = m->sn;
        return 0;
    case '0': /* POP */
        return vm_pop(m) ? 0 : -1;
    case '1': /* POP_MARK */
        return vm_pop_mark(m, &s, &e);
    case '2': /* DUP */
        v = vm_top(m);
        return v ? vm_push(m, v) : -1;
    case 'N':
        return vm_push(m, pickle_new(m->pm, PV_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
        v = pickle_new(m->pm, PV_BOOL);
        if (v)
            v->u.b = op == 0x88;
        return vm_push(m, v);
    case 'J': /* BININT */
        if (vm_need(m, 4))
            return -1;
        return vm_int(m, (int32_t)(uint32_t)vm_le(m, 4));
    case 'K': /* BININT1 */
        if (vm_need(m, 1))
            return -1;
        return vm_int(m, (int64_t)vm_le(m, 1));
    case 'M': /* BININT2 */
        if (vm_need(m, 2))
            return -1;
        return vm_int(m, (int64_t)vm_le(m, 2));
    case 0x8a: /* LONG1 */
        if (vm_need(m, 1))
            return -1;
        return vm_long(m, vm_le(m, 1));
    case 0x8b: /* LONG4 */
        if (vm_need(m, 4))
            return -1;
        iv = (int32_t)(uint32_t)vm_le(m, 4);
        if (iv < 0)
            return vm_fail(m, "negative LONG4 length");
        return vm_long(m, (uint64_t)iv);
    case 'I': /* INT (text; 00/01 are booleans) */
    case 'L': /* LONG (text) */
        if (vm_line_int(m, &iv, &is_bool))
            return -1;
        if (op == 'I' && is_bool) {
            v = pickle_new(m->pm, PV_BOOL);
            if (v)
                v->u.b = iv != 0;
            return vm_push(m, v);
        }
        return vm_int(m, iv);
    case 'G': { /* BINFLOAT, big-endian */
        uint64_t u = 0;
        double d;
        if (vm_need(m, 8))
            return -1;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | m->buf[m->pos++];
        memcpy(&d, &u, sizeof d);
        v = pickle_new(m->pm, PV_FLOAT);
        if (v)
            v->u.f = d;
        return vm_push(m, v);
    }
    case 'X': /* BINUNICODE */
    case 'B': /* BINBYTES */
        if (vm_need(m, 4))
            return -1;
        return vm_string(m, op == 'X' ? PV_STR : PV_BYTES, vm_le(m, 4));
    case 0x8c: /* SHORT_BINUNICODE */
    case 'C':  /* SHORT_BINBYTES */
    case 'U':  /* SHORT_BINSTRING */
        if (vm_need(m, 1))
            return -1;
        return vm_string(m, op == 'C' ? PV_BYTES : PV_STR, vm_le(m, 1));
    case 'T': /* BINSTRING */
        if (vm_need(m, 4))
            return -1;
        iv = (int32_t)(uint32_t)vm_le(m, 4);
        if (iv < 0)
            return vm_fail(m, "negative BINSTRING length");
        return vm_string(m, PV_STR, (uint64_t)iv);
    case 0x8d: /* BINUNICODE8 */
    case 0x8e: /* BINBYTES8 */
    case 0x96: /* BYTEARRAY8 */
        if (vm_need(m, 8))
            return -1;
        return vm_string(m, op == 0x8d ? PV_STR : PV_BYTES, vm_le(m, 8));
    case 'V': /* UNICODE (text; kept raw) */
        if (vm_line(m, &l1, &n1) || !(v = pickle_new(m->pm, PV_STR)) ||
            !(v->u.str.s = pickle_strdup(m->pm, l1, n1)))
            return -1;
        v->u.str.len = n1;
        return vm_push(m, v);
    case ')': /* EMPTY_TUPLE */
        return vm_push(m, pickle_new(m->pm, PV_TUPLE));
    case '}': /* EMPTY_DICT */
        return vm_push(m, pickle_new(m->pm, PV_DICT));
    case ']': /* EMPTY_LIST */
        return vm_push(m, pickle_new(m->pm, PV_LIST));
    case 't': /* TUPLE */
    case 'l': /* LIST */
        if (vm_pop_mark(m, &s, &e))
            return -1;
        return vm_push(m, vm_seq(m, op == 't' ? PV_TUPLE : PV_LIST, s, e));
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
        n1 = (size_t)(op - 0x84);
        if (m->sn < vm_floor(m) + n1)
            return vm_fail(m, "pickle stack underflow");
        m->sn -= n1;
        return vm_push(m, vm_seq(m, PV_TUPLE, m->sn, m->sn + n1));
    case 'd': /* DICT: the items stay in place below sn until pushed */
        if (vm_pop_mark(m, &s, &e))
            return -1;
        if ((e - s) % 2)
            return vm_fail(m, "DICT with an odd number of values");
        if (!(v = pickle_new(m->pm, PV_DICT)))
            return -1;
        for (size_t i = s; i < e; i += 2)
            if (pickle_dict_set(m->pm, v, m->stack[i], m->stack[i + 1]))
                return -1;
        return vm_push(m, v);
    case 'c': /* GLOBAL */
        if (vm_line(m, &l1, &n1) || vm_line(m, &l2, &n2))
            return -1;
        return vm_global(m, (const char *)l1, n1, (const char *)l2, n2, 1);
    case 0x93: /* STACK_GLOBAL */
        w = vm_pop(m);
        v = w ? vm_pop(m) : NULL;
        if (!v)
            return -1;
        if (v->type != PV_STR || w->type != PV_STR)
            return vm_fail(m, "STACK_GLOBAL of non-strings");
        return vm_global(m, v->u.str.s, v->u.str.len, w->u.str.s,
                         w->u.str.len, 0);
    case 'q': /* BINPUT */
        if (vm_need(m, 1))
            return -1;
        return vm_memo_put(m, vm_le(m, 1));
    case 'r': /* LONG_BINPUT */
        if (vm_need(m, 4))
            return -1;
        return vm_memo_put(m, vm_le(m, 4));
    case 0x94: /* MEMOIZE */
        if (vm_memo_put(m, m->memo_next))
            return -1;
        m->memo_next++;
        return 0;
    case 'p': /* PUT (text) */
    case 'g': /* GET (text) */
        if (vm_line_int(m, &iv, &is_bool))
            return -1;
        if (iv < 0)
            return vm_fail(m, "negative memo index");
        return op == 'p' ? vm_memo_put(m, (uint64_t)iv)
                         : vm_memo_get(m, (uint64_t)iv);
    case 'h': /* BINGET */
        if (vm_need(m, 1))
            return -1;
        return vm_memo_get(m, vm_le(m, 1));
    case 'j': /* LONG_BINGET */
        if (vm_need(m, 4))
            return -1;
        return vm_memo_get(m, vm_le(m, 4));
    case 's': /* SETITEM */
        if (m->sn < vm_floor(m) + 3)
            return vm_fail(m, "pickle stack underflow");
        m->sn -= 2;
        return vm_setitems(m, m->sn, m->sn + 2);
    case 'u': /* SETITEMS */
        if (vm_pop_mark(m, &s, &e))
            return -1;
        return vm_setitems(m, s, e);
    case 'a': /* APPEND */
        if (m->sn < vm_floor(m) + 2)
            return vm_fail(m, "pickle stack underflow");
        m->sn -= 1;
        return vm_appends(m, m->sn, m->sn + 1);
    case 'e': /* APPENDS */
        if (vm_pop_mark(m, &s, &e))
            return -1;
        return vm_appends(m, s, e);
    case 'R': /* REDUCE */
        return vm_reduce(m, 0);
    case 0x81: /* NEWOBJ */
        return vm_reduce(m, 1);
    case 0x92: /* NEWOBJ_EX: cls, args, kwargs (must be empty) */
        v = vm_pop(m);
        if (!v)
            return -1;
        if (v->type != PV_DICT || v->u.dict.n)
            return vm_fail(m, "NEWOBJ_EX with keyword arguments");
        return vm_reduce(m, 1);
    case 'b': /* BUILD */
        return vm_build(m);
    case 'Q': /* BINPERSID */
        return vm_persid(m);
    default:
        break;
    }
    return err_set("unsupported pickle opcode 0x%02x at offset %zu", op,
                   m->op_pos);
}

int pickle_run(pickle_machine *pm, const unsigned char *buf, size_t len,
               const pickle_options *opt, pv **out)
{
    static const pickle_options defaults = {0, 0, 0};
    vm m;
    int rc = -1;
    memset(&m, 0, sizeof m);
    m.pm = pm;
    m.buf = buf;
    m.len = len;
    m.opt = opt ? opt : &defaults;
    m.max_memo = m.opt->max_memo ? m.opt->max_memo : PICKLE_MAX_MEMO;
    uint64_t max_ops = m.opt->max_ops ? m.opt->max_ops : PICKLE_MAX_OPS;
    *out = NULL;
    for (uint64_t ops = 0;; ops++) {
        if (ops >= max_ops) {
            err_set("more than %llu pickle opcodes",
                    (unsigned long long)max_ops);
            goto cleanup;
        }
        if (m.pos >= m.len) {
            err_set("truncated pickle: no STOP opcode");
            goto cleanup;
        }
        m.op_pos = m.pos;
        int op = m.buf[m.pos++];
        int r = vm_step(&m, op);
        if (r < 0 ||
            pickle_frame_after(&m.frame, op, m.op_pos, m.pos, r == 1))
            goto cleanup;
        if (r == 1)
            break;
    }
    if (m.mn) {
        vm_fail(&m, "STOP with a MARK still open");
        goto cleanup;
    }
    if (m.sn != 1) {
        vm_fail(&m, "STOP with a stack of other than one value");
        goto cleanup;
    }
    if (pickle_pending_check(&m.pending) ||
        pickle_check_acyclic(m.stack[0]))
        goto cleanup;
    *out = m.stack[0];
    rc = 0;
cleanup:
    free(m.pending.items);
    free(m.stack);
    free(m.marks);
    free(m.memo);
    return rc;
}
