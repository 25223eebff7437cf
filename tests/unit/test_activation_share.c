/* test_activation_share.c: the activation share a frozen set keeps
 * (tui/core/activation_share.c) on a hand-built measurement of a
 * resnet-like model: full fine-tuning keeps everything, a frozen prefix
 * drops the prefix's bytes, a frozen middle block saves nothing, head
 * only keeps the head's and the loss's, all frozen keeps nothing. */
#include "check.h"

#include "../../tui/core/activation_share.h"
#include "../../tui/core/err.h"

#include <string.h>

static const char *const names[] = {
    "conv1.weight", "bn1.weight", "bn1.running_mean", "layer1.0.weight",
    "layer1.1.weight", "layer2.0.weight", "layer10.weight", "fc.weight"};
enum { NT = sizeof names / sizeof *names };

static activation_module mods[] = {
    {"conv1", 100}, {"bn1", 50}, {"relu", 25}, {"layer1", 400},
    {"layer2", 200}, {"layer10", 10}, {"fc", 4}, {"(loss)", 1}};

static void freeze(bitset *b, const char *prefix)
{
    for (size_t i = 0; i < NT; i++)
        if (strncmp(names[i], prefix, strlen(prefix)) == 0)
            bitset_set(b, i);
}

static uint64_t kept(const activation *m, const table *t, const char *frz,
                     size_t *first)
{
    bitset b;
    activation_share sh;
    char list[200];
    CHECK(bitset_init(&b, t->count) == 0);
    snprintf(list, sizeof list, "%s", frz);
    for (char *tok = strtok(list, " "); tok; tok = strtok(NULL, " "))
        freeze(&b, tok);
    int rc = activation_share_of(m, t, &b, &sh);
    CHECK(rc == 0);
    CHECK_EQ_U64(sh.measured, 790);
    bitset_free(&b);
    *first = sh.first;
    return rc ? 0 : sh.kept;
}

int main(void)
{
    table t;
    uint64_t shape[1] = {4};
    activation m;
    size_t first;
    table_init(&t);
    for (size_t i = 0; i < NT; i++)
        CHECK(table_add(&t, names[i], strlen(names[i]), DT_F32, 1, shape) ==
              (long)i);
    table_at(&t, 2)->kind = TK_BUFFER;
    activation_init(&m);
    m.modules = mods;
    m.nmodules = sizeof mods / sizeof *mods;
    CHECK_EQ_U64(kept(&m, &t, "", &first), 790); /* full */
    CHECK_EQ_U64(first, 0);
    /* prefix: conv1, bn1 (relu has no parameters) and layer1 frozen */
    CHECK_EQ_U64(kept(&m, &t, "conv1 bn1 layer1.", &first), 215);
    CHECK_EQ_U64(first, 4);
    /* middle: layer1 frozen alone saves nothing */
    CHECK_EQ_U64(kept(&m, &t, "layer1.", &first), 790);
    /* part of a module trainable: the module keeps all its bytes */
    CHECK_EQ_U64(kept(&m, &t, "conv1 bn1 layer1.0", &first), 615);
    CHECK_EQ_U64(first, 3);
    /* "layer1" is not a prefix of "layer10": layer10 trainable */
    CHECK_EQ_U64(kept(&m, &t, "conv1 bn1 layer1. layer2", &first), 15);
    CHECK_EQ_U64(first, 5);
    /* head only: fc and the loss */
    CHECK_EQ_U64(kept(&m, &t, "conv1 bn1 layer", &first), 5);
    /* everything frozen: nothing is saved (not even the loss) */
    CHECK_EQ_U64(kept(&m, &t, "conv1 bn1 layer fc", &first), 0);
    CHECK_EQ_U64(first, m.nmodules);
    /* no per-module bytes: an error, not a share */
    activation empty;
    activation_share sh;
    bitset b;
    activation_init(&empty);
    CHECK(bitset_init(&b, t.count) == 0);
    CHECK(activation_share_of(&empty, &t, &b, &sh) < 0);
    CHECK(strstr(err_msg(), "no per-module bytes") != NULL);
    bitset_free(&b);
    table_free(&t);
    return check_report();
}
