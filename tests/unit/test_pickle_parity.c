/* test_pickle_parity.c: the pickle machine against PyTorch's
 * weights_only unpickler (torch/_weights_only_unpickler.py, 2.x): Python 2
 * names mapped for GLOBAL, the joined "module.name" lookup, Counter,
 * sparse COO tensors, NEWOBJ without BUILD, cycles and FRAME lengths. */
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


/* A tensor value with a LongStorage of `numel` (indices of a sparse
 * tensor) or a FloatStorage. */
static void b_tensor1(const char *cls, const char *key, int numel, int d0,
                      int d1, int ndim)
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
    b_int(0);
    b_op('(');
    b_int(d0);
    if (ndim == 2)
        b_int(d1);
    b_op('t');
    b_op('(');
    if (ndim == 2) {
        b_int(d1);
        b_int(1);
    } else {
        b_int(1);
    }
    b_op('t');
    b_op(0x89);
    b_glob("collections", "OrderedDict");
    b_op(')');
    b_op('R');
    b_op('t');
    b_op('R');
}

/* {"sp": sparse_coo tensor of size (5, 7[, 9])}: indices [2, 2], values
 * [2]; with `extra` the size has a third dimension they do not fit. */
static void b_sparse(int extra)
{
    start();
    b_op('}');
    b_str("sp");
    b_glob("torch._utils", "_rebuild_sparse_tensor");
    b_glob("torch.serialization", "_get_layout");
    b_str("torch.sparse_coo");
    b_op(0x85);
    b_op('R');
    b_tensor1("LongStorage", "0", 4, 2, 2, 2);   /* indices [2, nnz 2] */
    b_tensor1("FloatStorage", "1", 2, 2, 0, 1);  /* values [2] */
    b_glob("torch", "Size");
    b_op('(');
    b_int(5);
    b_int(7);
    if (extra)
        b_int(9);
    b_op('t');
    b_op(0x85);
    b_op('R');
    b_op(0x87);
    b_op(0x86);
    b_op('R');
    b_op('s');
    b_op('.');
}

/* Protocol 4 with one FRAME of length `flen` around "} X a N s ." */
static void b_framed(uint64_t flen)
{
    blen = 0;
    b_op(0x80);
    b_op(4);
    b_op(0x95);
    for (int i = 0; i < 8; i++)
        b_op((int)((flen >> (8 * i)) & 0xff));
    b_op('}');
    b_str("a");
    b_op('N');
    b_op('s');
    b_op('.');
}

int main(void)
{
    pickle_machine pm = {0};
    pv *v;

    /* 1. protocol 2 writes builtins as __builtin__ (GLOBAL): mapped as
     * PyTorch does; STACK_GLOBAL (protocol 3+) is not mapped */
    start();
    b_glob("__builtin__", "set");
    b_op(']');
    b_int(1);
    b_op('a');
    b_op(0x85);
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_OBJECT);
    if (v && v->type == PV_OBJECT) {
        CHECK_STR(v->u.o.module, "builtins");
        CHECK_STR(v->u.o.name, "set");
    }
    start();
    b_glob("__builtin__", "bytearray");
    b_str("ab");
    b_op(0x85);
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_BYTES && v->u.str.len == 2);
    start();
    b_glob("__builtin__", "complex");
    b_raw("G\x3f\xf0\x00\x00\x00\x00\x00\x00", 9);
    b_raw("G\x40\x00\x00\x00\x00\x00\x00\x00", 9);
    b_op(0x86);
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_OBJECT && strcmp(v->u.o.name, "complex") == 0);
    start();
    buf[1] = 4;
    b_raw("\x8c\x0b__builtin__\x8c\x03set\x93", 19);
    b_op(')');
    b_op('R');
    b_op('.');
    CHECK(fails_with("unsafe global '__builtin__.set' refused", 0));
    start();
    b_glob("__builtin__", "intern"); /* -> sys.intern, a blocked module */
    b_op('.');
    CHECK(fails_with("'__builtin__.intern' ('sys.intern') refused", 0));
    start();
    b_glob("__builtin__", "eval");
    b_op('.');
    CHECK(fails_with("'__builtin__.eval' ('builtins.eval') refused", 0));

    /* 2. collections.Counter pickles its counts as a dict argument */
    start();
    b_glob("collections", "Counter");
    b_op('}');
    b_str("cat");
    b_int(3);
    b_op('s');
    b_op(0x85);
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_DICT && v->u.dict.n == 2);
    if (v && v->type == PV_DICT) {
        pv *c = pickle_dict_get(v, "cat");
        CHECK(c && c->type == PV_INT && c->u.i.v == 3);
    }
    start();
    b_glob("collections", "Counter");
    b_int(3);
    b_op(0x85);
    b_op('R');
    b_op('.');
    CHECK(fails_with("OrderedDict or Counter of a int", 0));

    /* 3. the allowlist compares the joined "module.name" */
    start();
    b_op('}');
    b_str("w");
    b_tensor1("FloatStorage", "0", 4, 4, 0, 1);
    b_op('s');
    b_op('.');
    {
        /* rewrite "torch._utils\n_rebuild_tensor_v2" as
         * "torch\n_utils._rebuild_tensor_v2" (same length) */
        unsigned char *p = memmem(buf, blen, "torch._utils\n", 13);
        CHECK(p != NULL);
        if (p)
            memcpy(p, "torch\n_utils.", 13);
    }
    v = run(&pm, 0);
    pv *t = v ? pickle_dict_get(v, "w") : NULL;
    CHECK(t && t->type == PV_TENSOR && t->u.t.size[0] == 4);
    start();
    b_glob("torch._utils._rebuild_tensor_v2", "");
    b_op('.');
    CHECK(fails_with("unsafe global 'torch._utils._rebuild_tensor_v2.' "
                     "refused", 0));
    start();
    b_glob("torch", "_utils.os.system");
    b_op('.');
    CHECK(fails_with("unsafe global 'torch._utils.os.system' refused", 0));
    start();
    b_glob("collections.OrderedDict", "");
    b_op('.');
    CHECK(fails_with("refused", 0));
    start();
    b_glob("torch", "strided"); /* not on PyTorch's list: _get_layout is */
    b_op('.');
    CHECK(fails_with("unsafe global 'torch.strided' refused", 0));

    /* 4. a sparse COO tensor: dense shape, the values' dtype */
    b_sparse(0);
    v = run(&pm, 0);
    t = v ? pickle_dict_get(v, "sp") : NULL;
    CHECK(t && t->type == PV_TENSOR);
    if (t && t->type == PV_TENSOR) {
        CHECK_EQ_U64(t->u.t.layout, PL_SPARSE_COO);
        CHECK_EQ_U64(t->u.t.ndim, 2);
        CHECK_EQ_U64(t->u.t.size[0], 5);
        CHECK_EQ_U64(t->u.t.size[1], 7);
        CHECK_EQ_U64(t->u.t.dt, DT_F32);
        CHECK(t->u.t.values && t->u.t.indices && !t->u.t.is_param);
    }
    b_sparse(1); /* indices and values do not fit its shape */
    CHECK(fails_with("sparse_coo tensor: indices and values do not fit its "
                     "3 dimensions", 0));
    start();
    b_glob("torch.serialization", "_get_layout");
    b_str("torch.sparse_csr");
    b_op(0x85);
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_OBJECT && v->u.o.layout == PL_SPARSE_CSR + 1);
    start();
    b_glob("torch.serialization", "_get_layout");
    b_str("torch.nosuch");
    b_op(0x85);
    b_op('R');
    b_op('.');
    CHECK(fails_with("unknown tensor layout 'torch.nosuch'", 0));
    CHECK_STR(pickle_layout_name(PL_SPARSE_COO), "sparse_coo");

    /* 5. NEWOBJ of torch.device must be followed by BUILD */
    start();
    b_glob("torch", "device");
    b_str("cpu");
    b_op(0x85);
    b_op(0x81);
    b_op('.');
    CHECK(fails_with("object created by NEWOBJ of 'torch.device' at offset "
                     "25 was not initialized by BUILD", 0));
    start();
    b_glob("torch", "device");
    b_str("cpu");
    b_op(0x85);
    b_op(0x81);
    b_op('}');
    b_op('b');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_OBJECT);
    start(); /* REDUCE (what torch.save writes) needs no BUILD */
    b_glob("torch", "device");
    b_str("cpu");
    b_op(0x85);
    b_op('R');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_OBJECT);
    start(); /* NEWOBJ of OrderedDict needs none either */
    b_glob("collections", "OrderedDict");
    b_op(')');
    b_op(0x81);
    b_op('.');
    CHECK(run(&pm, 0) != NULL);

    /* 6. cycles are refused after STOP, with the offset */
    start();
    b_op('}');            /* offset 2 */
    b_raw("q\x00", 2);
    b_str("self");
    b_raw("h\x00", 2);
    b_op('s');
    b_op('.');
    CHECK(fails_with("cyclic reference at offset 2 (a dict that contains "
                     "itself)", 0));
    start();
    b_op(']');            /* offset 2 */
    b_raw("q\x00", 2);
    b_op(']');            /* offset 5 */
    b_raw("q\x01", 2);
    b_raw("h\x00", 2);
    b_op('a');            /* inner.append(outer) */
    b_op('a');            /* outer.append(inner) */
    b_op('.');
    CHECK(fails_with("cyclic reference at offset 2 (a list that contains "
                     "itself through others)", 0));
    start(); /* an object whose BUILD state is itself */
    b_glob("builtins", "set");
    b_op(')');
    b_op('R');
    b_raw("q\x00", 2);
    b_raw("h\x00", 2);
    b_op('b');
    b_op('.');
    CHECK(fails_with("cyclic reference at offset", 0));
    start(); /* shared but acyclic (a diamond, memo reuse) is fine */
    b_op(']');
    b_raw("q\x00", 2);
    b_op('0');
    b_op('(');
    for (int i = 0; i < 1000; i++)
        b_raw("h\x00", 2);
    b_op('t');
    b_op('.');
    v = run(&pm, 0);
    CHECK(v && v->type == PV_TUPLE && v->u.seq.n == 1000);
    {
        /* a 50,000-long chain of nested lists through the memo: walked
         * without recursion (the depth limit stops it first) */
        start();
        b_op(']');
        for (int i = 0; i < 900; i++) {
            b_op(']');
            b_op('a');
        }
        b_op('.');
        v = run(&pm, 0);
        CHECK(v && v->type == PV_LIST);
    }

    /* 8. FRAME lengths must agree with the opcodes inside */
    b_framed(10); /* exactly what follows: } X a N s . */
    v = run(&pm, 0);
    CHECK(v && v->type == PV_DICT);
    b_framed(9); /* STOP after the frame, unframed: fine */
    CHECK(run(&pm, 0) != NULL);
    b_framed(3); /* ends inside the BINUNICODE */
    CHECK(fails_with("frame mismatch: opcode 0x58 at offset 12 runs past "
                     "the end of its frame (FRAME at offset 2, ends at "
                     "offset 14)", 0));
    b_framed(100);
    CHECK(fails_with("frame mismatch: FRAME at offset 2 declares 100 bytes, "
                     "only 10 left", 0));
    blen = 0; /* two FRAMEs, the second inside the first */
    b_op(0x80);
    b_op(4);
    b_raw("\x95\x0b\x00\x00\x00\x00\x00\x00\x00", 9);
    b_op('N');
    b_raw("\x95\x01\x00\x00\x00\x00\x00\x00\x00", 9);
    b_op('.');
    CHECK(fails_with("frame mismatch: FRAME at offset 12 inside the frame "
                     "of offset 2, which ends at offset 22", 0));
    blen = 0; /* STOP before the frame's end */
    b_op(0x80);
    b_op(4);
    b_raw("\x95\x03\x00\x00\x00\x00\x00\x00\x00", 9);
    b_op('N');
    b_op('.');
    b_op('N');
    CHECK(fails_with("frame mismatch: STOP at offset 12 inside the frame",
                     0));
    blen = 0; /* unframed opcodes after a frame ended are fine */
    b_op(0x80);
    b_op(4);
    b_raw("\x95\x01\x00\x00\x00\x00\x00\x00\x00", 9);
    b_op('N');
    b_op('.');
    CHECK(run(&pm, 0) != NULL);

    pickle_free(&pm);
    return check_report();
}
