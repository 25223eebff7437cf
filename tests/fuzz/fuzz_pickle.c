/* fuzz_pickle.c: libFuzzer target for the symbolic pickle machine.
 *
 * The first byte picks the options (bit 0: TorchScript mode; bit 1: tight
 * limits, 1,000 opcodes and 100 memo entries, so the limit paths are
 * reached); the rest is the pickle stream. A successful run's top value
 * is walked (bounded) to touch every value the machine built.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/formats/pickle.h"

static size_t walk(const pv *v, unsigned depth, size_t budget)
{
    if (!v || budget == 0 || depth > PICKLE_MAX_DEPTH + 2)
        return budget;
    budget--;
    (void)pickle_type_name(v);
    switch (v->type) {
    case PV_TUPLE:
    case PV_LIST:
        for (size_t i = 0; i < v->u.seq.n && budget; i++)
            budget = walk(v->u.seq.items[i], depth + 1, budget);
        break;
    case PV_DICT:
        /* n counts keys and values: kv[i] is a key, kv[i + 1] its value */
        for (size_t i = 0; i + 1 < v->u.dict.n && budget; i += 2) {
            budget = walk(v->u.dict.kv[i], depth + 1, budget);
            budget = walk(v->u.dict.kv[i + 1], depth + 1, budget);
        }
        (void)pickle_dict_get(v, "state_dict");
        break;
    case PV_STR:
        if (v->u.str.s[v->u.str.len] != '\0')
            abort();
        break;
    case PV_TENSOR:
        if (v->u.t.ndim > PICKLE_MAX_DIMS)
            abort();
        for (unsigned i = 0; i < v->u.t.ndim; i++)
            (void)(v->u.t.size[i] + v->u.t.stride[i]);
        budget = walk(v->u.t.storage, depth + 1, budget);
        break;
    case PV_OBJECT:
        budget = walk(v->u.o.state, depth + 1, budget);
        break;
    default:
        break;
    }
    return budget;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    pickle_options opt = {data[0] & 1, 0, 0};
    if (data[0] & 2) {
        opt.max_ops = 1000;
        opt.max_memo = 100;
    }
    pickle_machine pm = {0};
    pv *top = NULL;
    if (pickle_run(&pm, data + 1, size - 1, &opt, &top) == 0) {
        if (!top)
            abort();
        walk(top, 0, 100000);
    } else if (!err_msg()[0]) {
        abort();
    }
    pickle_free(&pm);
    err_clear();
    return 0;
}
