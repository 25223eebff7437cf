/* test_pickle.c: the symbolic pickle machine on hand-built opcode streams. */
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/formats/pickle.h"
#include "check.h"

static unsigned char buf[1 << 20];
static size_t blen;

static void b_raw(const void *p, size_t n)
{
    memcpy(buf + blen, p, n);
    blen += n;
}
static void b_op(int c) { buf[blen++] = (unsigned char)c; }
static void b_str(const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    b_op('X');
    for (int i = 0; i < 4; i++)
        b_op((int)((n >> (8 * i)) & 0xff));
    b_raw(s, n);
}
static void b_int(int32_t v)
{
    b_op('J');
    for (int i = 0; i < 4; i++)
        b_op((int)(((uint32_t)v >> (8 * i)) & 0xff));
}
static void b_glob(const char *m, const char *n)
{
    b_op('c');
    b_raw(m, strlen(m));
    b_op('\n');
    b_raw(n, strlen(n));
    b_op('\n');
}
static void b_tensor(const char *cls, const char *key, int numel, int off,
                     int d0, int d1, int s0, int s1)
{
    b_glob("torch._utils", "_rebuild_tensor_v2");
    b_op('(');
    b_op('(');
    b_str("storage");
    b_glob("torch", cls);
    b_str(key);
    b_str("cpu");
    b_int(numel);
    b_op('t');
    b_op('Q');
    b_int(off);
    b_op('(');
    b_int(d0);
    b_int(d1);
    b_op('t');
    b_op('(');
    b_int(s0);
    b_int(s1);
    b_op('t');
    b_op(0x89);
    b_glob("collections", "OrderedDict");
    b_op(')');
    b_op('R');
    b_op('t');
    b_op('R');
}

/* Sets the length of the FRAME at buf[2] to "the rest from `from` on". */
static void set_frame(size_t from)
{
    uint64_t n = blen - from;
    for (int i = 0; i < 8; i++)
        buf[3 + i] = (unsigned char)(n >> (8 * i));
}

static void start(void)
{
    blen = 0;
    b_op(0x80);
    b_op(2);
}

/* Runs buf; returns the top value or NULL (err set). */
static pv *run(pickle_machine *pm, int script)
{
    pickle_options o = {script, 0, 0};
    pv *top = NULL;
    pickle_free(pm);
    err_clear();
    if (pickle_run(pm, buf, blen, &o, &top))
        return NULL;
    return top;
}

static int fails_with(const char *want, int script)
{
    pickle_machine pm = {0};
    pv *v = run(&pm, script);
    int ok = v == NULL && strstr(err_msg(), want) != NULL;
    if (!ok)
        fprintf(stderr, "  want error containing '%s', got '%s'\n", want,
                v ? "(success)" : err_msg());
    pickle_free(&pm);
    return ok;
}

int main(void)
{
    pickle_machine pm = {0};
    pv *v;

    /* scalars in a dict, OrderedDict + BUILD with _metadata, LONG1, float */
    start();
    b_glob("collections", "OrderedDict");
    b_op(')');
    b_op('R');
    b_op('(');
    b_str("a");
    b_int(-5);
    b_str("big");
    b_raw("\x8a\x05\x00\x00\x00\x80\x00", 7); /* 2^31 */
    b_str("f");
    b_raw("G\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc", 9); /* 0.001 */
    b_str("t");
    b_op(0x88);
    b_str("n");
    b_op('N');
    b_op('u');
    b_op('}');
    b_str("_metadata");
    b_op('}');
    b_op('s');
    b_op('b');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_DICT && v->u.dict.n == 10);
    if (v && v->type == PV_DICT) {
        pv *a = pickle_dict_get(v, "a"), *big = pickle_dict_get(v, "big");
        pv *f = pickle_dict_get(v, "f"), *t = pickle_dict_get(v, "t");
        CHECK(a && a->type == PV_INT && a->u.i.v == -5);
        CHECK(big && big->type == PV_INT && big->u.i.v == 2147483648LL);
        CHECK(f && f->type == PV_FLOAT && f->u.f == 0.001);
        CHECK(t && t->type == PV_BOOL && t->u.b == 1);
        CHECK(pickle_dict_get(v, "n")->type == PV_NONE);
        CHECK(pickle_dict_get(v, "zz") == NULL);
    }

    /* a tensor: storage, offset, size, stride, dtype */
    start();
    b_op('}');
    b_str("w");
    b_tensor("HalfStorage", "7", 12, 2, 2, 3, 1, 2);
    b_op('s');
    b_op('.');
    v = run(&pm, 0);
    pv *t = v ? pickle_dict_get(v, "w") : NULL;
    CHECK(t && t->type == PV_TENSOR);
    if (t && t->type == PV_TENSOR) {
        CHECK_EQ_U64(t->u.t.dt, DT_F16);
        CHECK_EQ_U64(t->u.t.ndim, 2);
        CHECK_EQ_U64(t->u.t.offset, 2);
        CHECK_EQ_U64(t->u.t.size[1], 3);
        CHECK_EQ_U64(t->u.t.stride[1], 2);
        CHECK_STR(t->u.t.storage->u.st.key, "7");
        CHECK_EQ_U64(t->u.t.storage->u.st.numel, 12);
        CHECK(!t->u.t.is_param);
    }

    /* _rebuild_parameter and protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL,
     * SHORT_BINUNICODE) */
    start();
    buf[1] = 4;
    b_raw("\x95\x10\x00\x00\x00\x00\x00\x00\x00", 9);
    b_raw("\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_parameter\x94\x93\x94",
          38);
    b_op('(');
    b_tensor("FloatStorage", "0", 4, 0, 2, 2, 2, 1);
    b_op(0x88);
    b_op('h');
    b_op(0);      /* memo 0: the module string, a harmless value */
    b_op('t');
    b_op('R');
    b_op('.');
    set_frame(11); /* the frame holds everything after it */
    v = run(&pm, 0);
    CHECK(v && v->type == PV_TENSOR && v->u.t.is_param &&
          v->u.t.requires_grad);

    /* _rebuild_tensor_v3 with an UntypedStorage and a float8 dtype */
    start();
    b_glob("torch._utils", "_rebuild_tensor_v3");
    b_op('(');
    b_op('(');
    b_str("storage");
    b_glob("torch", "UntypedStorage");
    b_str("0");
    b_str("cpu");
    b_int(8);
    b_op('t');
    b_op('Q');
    b_int(0);
    b_op('(');
    b_int(8);
    b_op('t');
    b_op('(');
    b_int(1);
    b_op('t');
    b_op(0x89);
    b_op('}');
    b_glob("torch", "float8_e4m3fn");
    b_op('t');
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_TENSOR && v->u.t.dt == DT_F8_E4M3 &&
          v->u.t.storage->u.st.untyped);

    /* refused globals, by name; blocked modules even if "harmless" */
    start(); b_glob("os", "system"); b_op('.');
    CHECK(fails_with("unsafe global 'os.system' refused", 0));
    start(); b_glob("os.path", "join"); b_op('.');
    CHECK(fails_with("unsafe global 'os.path.join' refused", 0));
    start(); b_glob("sys", "exit"); b_op('.');
    CHECK(fails_with("unsafe global 'sys.exit' refused", 1));
    start(); b_glob("nt", "system"); b_op('.');
    CHECK(fails_with("unsafe global 'nt.system' refused", 0));
    start(); b_glob("builtins", "getattr"); b_op('.');
    CHECK(fails_with("unsafe global 'builtins.getattr' refused", 0));
    start(); b_glob("torch.jit._pickle", "build_intlist"); b_op('.');
    CHECK(fails_with("unsafe global", 0));
    start(); b_glob("__torch__.m", "M"); b_op(')'); b_op(0x81); b_op('.');
    CHECK(fails_with("unsafe global '__torch__.m.M'", 0));
    start(); b_glob("__torch__.m", "M"); b_op(')'); b_op(0x81);
    b_op('}'); b_str("x"); b_int(1); b_op('s'); b_op('b'); b_op('.');
    v = run(&pm, 1);
    CHECK(v && v->type == PV_OBJECT && v->u.o.state &&
          v->u.o.state->type == PV_DICT);

    /* structure */
    start(); b_op(']'); b_str("k"); b_str("v"); b_op('s'); b_op('.');
    CHECK(fails_with("SETITEM on a list refused", 0));
    start(); b_op('}'); b_int(1); b_op('a'); b_op('.');
    CHECK(fails_with("APPEND on a dict refused", 0));
    start(); b_op(')'); b_op('}'); b_op('b'); b_op('.');
    CHECK(fails_with("BUILD on a tuple refused", 0));
    start(); b_op('('); b_str("x"); b_op('t'); b_op('Q'); b_op('.');
    CHECK(fails_with("persistent id is not a ('storage'", 0));
    start(); b_op('a'); b_op('.');
    CHECK(fails_with("stack underflow", 0));
    start(); b_op('N'); b_op('('); b_op('0'); b_op('.');
    CHECK(fails_with("stack underflow", 0));
    start(); b_op('('); b_op('N'); b_op('.');
    CHECK(fails_with("MARK still open", 0));
    start(); b_op('t'); b_op('.');
    CHECK(fails_with("no MARK", 0));
    start(); b_op('h'); b_op(3); b_op('.');
    CHECK(fails_with("unknown memo index", 0));
    start(); b_raw("X\xff\xff\xff\xff", 5); b_op('.');
    CHECK(fails_with("truncated pickle", 0));
    start(); b_op('N');
    CHECK(fails_with("no STOP", 0));
    start(); b_op('N'); b_op('N'); b_op('.');
    CHECK(fails_with("STOP with a stack", 0));
    start(); b_glob("torch", "float32"); b_op(')'); b_op('R'); b_op('.');
    CHECK(fails_with("cannot be called", 0));
    start(); b_op('}'); b_str("w");
    b_tensor("FloatStorage", "0", 4, 0, 2, 2, -2, 1); b_op('s'); b_op('.');
    CHECK(fails_with("negative tensor stride", 0));

    /* limits */
    start(); b_op('N');
    for (int i = 0; i < 5000; i++)
        b_op(0x85);
    b_op('.');
    CHECK(fails_with("nested deeper than 1000", 0));
    start();
    for (int i = 0; i < 100001; i++)
        b_op('N');
    b_op('.');
    CHECK(fails_with("stack deeper than", 0));
    {
        pickle_options o = {0, 100, 0};
        pv *top;
        start();
        for (int i = 0; i < 200; i++) {
            b_op('N');
            b_op('0');
        }
        b_op('N');
        b_op('.');
        pickle_free(&pm);
        CHECK(pickle_run(&pm, buf, blen, &o, &top) == -1 &&
              strstr(err_msg(), "more than 100 pickle opcodes"));
    }

    pickle_free(&pm);
    pickle_free(&pm); /* idempotent */
    return check_report();
}
