/* test_plan_resolve.c: one meaning of a plan (plan_resolve.h) and tied
 * weights everywhere: table_link_ties, the tree's totals, the frozen set,
 * rules, frozen lists and the estimate, on a small model shaped like a
 * BertForMaskedLM saved with torch.save (the decoder tied to the word
 * embeddings, one storage, two names). */
#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/fingerprint.h"
#include "../../tui/core/memory.h"
#include "../../tui/core/plan_resolve.h"
#include "../../tui/core/session.h"
#include "freeze_ops.h"

/* emb.weight [100, 8] and head.weight are one tensor; head.bias [100];
 * enc.0.w [8, 8], enc.1.w [8, 8] (another storage each); norm.running_mean
 * [8] a buffer. */
static void make_table(table *t)
{
    uint64_t e[] = {100, 8}, b[] = {100}, w[] = {8, 8}, r[] = {8};
    table_init(t);
    CHECK(table_add(t, "emb.weight", 10, DT_F32, 2, e) == 0);
    CHECK(table_add(t, "enc.0.w", 7, DT_F32, 2, w) == 1);
    CHECK(table_add(t, "enc.1.w", 7, DT_F32, 2, w) == 2);
    CHECK(table_add(t, "norm.running_mean", 17, DT_F32, 1, r) == 3);
    CHECK(table_add(t, "head.weight", 11, DT_F32, 2, e) == 4);
    CHECK(table_add(t, "head.bias", 9, DT_F32, 1, b) == 5);
    table_at(t, 3)->kind = TK_BUFFER;
    static const uint32_t storage[] = {0, 1, 2, 3, 0, 4};
    for (size_t i = 0; i < 6; i++)
        table_at(t, i)->storage = storage[i];
    table_set_format(t, "pytorch");
}

static void test_link(void)
{
    table t;
    make_table(&t);
    CHECK(table_link_ties(&t) == 0);
    CHECK_EQ_U64(t.aliases, 1);
    CHECK(table_at(&t, 4)->flags & TF_ALIAS);
    CHECK(!(table_at(&t, 0)->flags & TF_ALIAS));
    CHECK_EQ_U64(table_at(&t, 0)->tie, 4);
    CHECK_EQ_U64(table_at(&t, 4)->tie, 0);
    CHECK_EQ_U64(table_tie_first(&t, 4), 0);
    CHECK_EQ_U64(table_tie_first(&t, 1), 1);
    table_totals tot;
    table_get_totals(&t, &tot);
    CHECK_EQ_U64(tot.parameters, 5);
    CHECK_EQ_U64(tot.parameter_numel, 800 + 64 + 64 + 100);
    CHECK_EQ_U64(tot.aliases, 1);
    /* idempotent */
    CHECK(table_link_ties(&t) == 0 && t.aliases == 1);
    /* another offset is another tensor, not a tie */
    table_at(&t, 4)->offset = 4;
    CHECK(table_link_ties(&t) == 0 && t.aliases == 0);
    CHECK(!(table_at(&t, 4)->flags & TF_ALIAS));
    /* so is another shape over the same bytes (a view) */
    table_at(&t, 4)->offset = 0;
    table_at(&t, 2)->storage = 1; /* enc.1.w on enc.0.w's storage */
    CHECK(table_link_ties(&t) == 0 && t.aliases == 2);
    table_free(&t);
}

static void test_session(void)
{
    table t;
    session s;
    session_result r;
    make_table(&t);
    CHECK(table_link_ties(&t) == 0);
    CHECK(session_init(&s, &t, "m.pt") == 0);
    const tree_node *root = tree_root(&s.tr);
    CHECK_EQ_U64(root->param_numel, 1028);
    /* freezing the alias freezes the group, counted once */
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "head.weight", 0, &r) == 0);
    CHECK(freeze_is_frozen(&s.fs, 0) && freeze_is_frozen(&s.fs, 4));
    CHECK_EQ_U64(r.matched_tensors, 1);
    CHECK_EQ_U64(r.matched_numel, 800);
    CHECK_EQ_U64(root->frozen_numel, 800);
    CHECK_EQ_U64(root->frozen_tensors, 2);
    mem_estimate e;
    CHECK(session_estimate(&s, &e) == 0);
    CHECK_EQ_U64(e.param_numel, 1028);
    CHECK_EQ_U64(e.after.trainable_numel, 228);
    /* unfreezing the first name unfreezes both; undo freezes both again */
    CHECK(session_apply_rule(&s, PLAN_UNFREEZE, "emb", 0, &r) == 0);
    CHECK(!freeze_is_frozen(&s.fs, 0) && !freeze_is_frozen(&s.fs, 4));
    CHECK(session_undo(&s, &r) == 1);
    CHECK(freeze_is_frozen(&s.fs, 0) && freeze_is_frozen(&s.fs, 4));
    /* a subtree operation reaches the tie outside the subtree */
    CHECK(session_undo(&s, &r) == 1);
    tree_node *head = tree_find(&s.tr, "head", 4);
    CHECK(head != NULL);
    if (head) {
        freeze_report rep;
        CHECK(freeze_ops_node(&s.fs, head, 1, &rep) == 0);
        CHECK(freeze_is_frozen(&s.fs, 0) && freeze_is_frozen(&s.fs, 4));
        CHECK_EQ_U64(root->frozen_numel, 900);
        CHECK_EQ_U64(tree_find(&s.tr, "emb", 3)->frozen_numel, 800);
    }
    /* a set naming one alias freezes the group */
    bitset want;
    CHECK(bitset_init(&want, s.t.count) == 0);
    bitset_set(&want, 4);
    freeze_report rep;
    CHECK(freeze_assign(&s.fs, &want, &rep) == 0);
    CHECK(freeze_is_frozen(&s.fs, 0) && freeze_is_frozen(&s.fs, 4));
    CHECK(!freeze_is_frozen(&s.fs, 5));
    bitset_free(&want);
    session_free(&s);
}

/* Parses `text` as plan "p.yaml" and resolves it on a fresh table. */
static int resolve(const char *text, int allow_empty, bitset *out,
                   plan_resolution *res, char *report, size_t cap)
{
    table t;
    plan p;
    make_table(&t);
    CHECK(table_link_ties(&t) == 0);
    plan_init(&p);
    memset(report, 0, cap); /* fmemopen need not write a NUL when unused */
    FILE *f = fmemopen(report, cap, "w");
    int rc = plan_parse("p.yaml", text, strlen(text), &p);
    if (rc == 0) {
        bitset_free(out);
        CHECK(bitset_init(out, t.count) == 0);
        rc = plan_resolve(&t, &p, "p.yaml", "m.pt", allow_empty, out, res, f);
    }
    fclose(f);
    plan_free(&p);
    table_free(&t);
    return rc;
}

/* The frozen set as a string of 0/1 per tensor. */
static const char *bits(const bitset *b)
{
    static char s[16];
    size_t i = 0;
    for (; i < b->n && i < sizeof s - 1; i++)
        s[i] = bitset_get(b, i) ? '1' : '0';
    s[i] = '\0';
    return s;
}

static void test_resolve(void)
{
    table t;
    char fp[72], text[1024], rep[2048];
    make_table(&t);
    CHECK(table_fingerprint(&t, fp) == 0);
    table_free(&t);
    char stale[72] = "sha256:";
    memset(stale + 7, '0', 64);
    stale[71] = '\0';
    bitset b = {NULL, 0};
    plan_resolution r;

    /* hand-written, rules only: no fingerprint note */
    CHECK(resolve("version: 1\nmodel: {path: m.pt}\nrules:\n"
                  "- freeze: \"**\"\n- unfreeze: enc.1\n", 0, &b, &r, rep,
                  sizeof rep) == 0);
    CHECK_STR(bits(&b), "110011");
    CHECK(r.fingerprint == PLAN_FP_ABSENT && r.source == PLAN_FROM_RULES);
    CHECK_STR(rep, "");
    /* hand-written list naming the alias: the group; a buffer name is
     * accepted and stays unfrozen */
    CHECK(resolve("version: 1\nmodel: {path: m.pt}\nfrozen: [head.weight, "
                  "norm.running_mean]\n", 0, &b, &r, rep, sizeof rep) == 0);
    CHECK_STR(bits(&b), "100010");
    CHECK(r.source == PLAN_FROM_LIST);
    /* matching fingerprint: the list wins over rules, with a note */
    snprintf(text, sizeof text, "version: 1\nmodel: {path: m.pt, "
             "fingerprint: \"%s\"}\nrules: [freeze: enc]\nfrozen: [enc.0.w]\n",
             fp);
    CHECK(resolve(text, 0, &b, &r, rep, sizeof rep) == 0);
    CHECK_STR(bits(&b), "010000");
    CHECK(r.fingerprint == PLAN_FP_MATCH && r.source == PLAN_FROM_LIST);
    CHECK(strstr(rep, "another frozen set than its frozen list") != NULL);
    CHECK(strstr(rep, "(1): enc.1.w") != NULL);
    CHECK(strstr(rep, "another checkpoint") == NULL);
    /* stale: the rules win, the differences are named */
    snprintf(text, sizeof text, "version: 1\nmodel: {path: m.pt, "
             "fingerprint: \"%s\"}\nrules: [freeze: enc]\nfrozen: [enc.0.w, "
             "gone.w]\n", stale);
    CHECK(resolve(text, 0, &b, &r, rep, sizeof rep) == 0);
    CHECK_STR(bits(&b), "011000");
    CHECK(r.fingerprint == PLAN_FP_STALE && r.source == PLAN_FROM_RULES);
    CHECK_EQ_U64(r.missing, 1);
    CHECK_EQ_U64(r.changed, 1);
    CHECK(strstr(rep, "made for another checkpoint") != NULL);
    CHECK(strstr(rep, "lacks (1): gone.w") != NULL);
    /* stale, list only: the list by name; a missing name is an error */
    snprintf(text, sizeof text, "version: 1\nmodel: {path: m.pt, "
             "fingerprint: \"%s\"}\nfrozen: [enc.1.w]\n", stale);
    CHECK(resolve(text, 0, &b, &r, rep, sizeof rep) == 0);
    CHECK_STR(bits(&b), "001000");
    CHECK(strstr(rep, "frozen list is applied by name") != NULL);
    snprintf(text, sizeof text, "version: 1\nmodel: {path: m.pt, "
             "fingerprint: \"%s\"}\nfrozen: [enc.1.w, gone.w]\n", stale);
    CHECK(resolve(text, 0, &b, &r, rep, sizeof rep) == -1);
    CHECK_STR(err_msg(), "p.yaml: frozen name 'gone.w' is not a tensor of "
              "m.pt");
    /* a rule matching nothing: an error, or a note with allow_empty */
    const char *empty = "version: 1\nmodel: {path: m.pt}\nrules:\n"
                        "- freeze: enc\n- freeze: \"nope.**\"\n";
    CHECK(resolve(empty, 0, &b, &r, rep, sizeof rep) == -1);
    CHECK_STR(err_msg(), "p.yaml:5:3: rule 'nope.**' matches nothing in "
              "m.pt (--allow-empty applies the plan anyway)");
    CHECK(resolve(empty, 1, &b, &r, rep, sizeof rep) == 0);
    CHECK_STR(bits(&b), "011000");
    CHECK_EQ_U64(r.empty_rules, 1);
    CHECK(strstr(rep, "rule 'nope.**' matches nothing") != NULL);
    /* counts of a hand-written plan are checked as notes */
    CHECK(resolve("version: 1\nmodel: {path: m.pt, tensors: 5}\nrules: "
                  "[invert: true]\n", 0, &b, &r, rep, sizeof rep) == 0);
    CHECK_STR(bits(&b), "111011");
    CHECK(strstr(rep, "model.tensors is 5, m.pt has 6") != NULL);
    /* a bad pattern names the rule's place */
    CHECK(resolve("version: 1\nmodel: {path: m.pt}\nrules: [freeze: "
                  "\"a{\"]\n", 0, &b, &r, rep, sizeof rep) == -1);
    CHECK(strncmp(err_msg(), "p.yaml:3:", 9) == 0);
    bitset_free(&b);
}

/* TorchScript: rules start from the saved requires_grad flags. */
static void test_initial(void)
{
    table t;
    make_table(&t);
    table_set_format(&t, "torchscript");
    for (size_t i = 0; i < t.count; i++)
        if (i != 1)
            table_at(&t, i)->flags |= TF_REQUIRES_GRAD;
    bitset b;
    CHECK(bitset_init(&b, t.count) == 0);
    plan_initial_state(&t, &b);
    CHECK_STR(bits(&b), "010000");
    table_set_format(&t, "pytorch");
    plan_initial_state(&t, &b);
    CHECK_STR(bits(&b), "000000");
    bitset_free(&b);
    table_free(&t);
}

int main(void)
{
    test_link();
    test_session();
    test_resolve();
    test_initial();
    return check_report();
}
