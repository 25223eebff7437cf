/* export_fts.c: `--export fts`, a Lightning FinetuningScheduler schedule
 * (the `ft_schedule` YAML) from a staged plan.
 *
 * Consumer semantics (speediedan/finetuning-scheduler at ceae3f0,
 * src/finetuning_scheduler/):
 * - fts_supporters.py, load_yaml_schedule: yaml.load with UniqueKeyLoader
 *   (SafeLoader, a duplicate key is an error); _validate_schedule_keys:
 *   phase keys are ints, zero-based and contiguous, run in ascending
 *   order.
 * - fts.py, setup/freeze_before_training: BaseFinetuning.freeze of the
 *   whole module, then phase 0's params are thawed: phase 0 is the only
 *   trainable set at the start, and enforce_phase0_params (default True)
 *   makes the optimizer from configure_optimizers hold exactly those.
 *   A parameter no phase names stays frozen for the whole run.
 * - fts_supporters.py, _parse_phase: an entry that is a name of the
 *   module's named_parameters() is that parameter (checked first); any
 *   other entry is compiled as a regex and takes every name it re.match-es
 *   (anchored at the start only); an entry matching nothing is an error.
 *   _validate_phases_disjoint: a parameter in two phases is an error.
 * - strategy_adapters/base.py, base_ft_phase: a phase only sets
 *   requires_grad = True on its names; nothing ever freezes again.
 * - fts.py, should_transition / on_train_epoch_start: at the start of
 *   epoch E (trainer.current_epoch, 0-based) the next phase begins when
 *   0 <= max_transition_epoch <= E (one phase per epoch start); -1 (the
 *   default, _parse_phase) leaves it to FTSEarlyStopping, which may also
 *   end a phase early unless epoch_transitions_only=True (which then
 *   requires max_transition_epoch >= 0 on every phase). So phase k runs
 *   from the previous phase's max_transition_epoch to its own.
 *   init_ft_sched: the last phase's max_transition_epoch only raises
 *   max_epochs to at least it.
 * - _parse_phase_lr: phase 0's lr is dropped (the optimizer's own is
 *   used); a later phase without lr gets base_max_lr (1e-5), not the
 *   optimizer's. _add_groups: a phase's thawed parameters join the
 *   optimizer as a new param group at that lr (two groups, the second
 *   with weight_decay 0, for names holding a LightningModule.no_decay
 *   substring).
 * - fts.py, step: restore_best (default True) reloads the best checkpoint
 *   before each transition.
 *
 * So phase 0 is stage 0's trainable named parameters, phase k the names
 * stage k thaws, written as the exact names (which _parse_phase takes
 * before any regex reading); max_transition_epoch is the epoch where the
 * next stage starts (the sum of the `epochs:` so far); the last phase's
 * is the run's end in epochs when the plan says it (train.epochs, else
 * the last stage's end), else left out. Every later phase gets an `lr:`,
 * the stage's or train.optimizer.lr (tui's rule), since FTS's default
 * differs. Refused: lengths in `steps:` (FTS changes phase only at epoch
 * starts), a stage that freezes again what trained (FTS only thaws),
 * `lr_scale:`/`layer_decay:` (one lr per phase) and `no_decay:` (not
 * part of a schedule), and a stage 0 that trains nothing (FTS's first
 * optimizer would hold nothing). A plan without stages is one phase.
 * Names are in natural tree order, a tied duplicate left out (FTS sees
 * named_parameters()). The comment on top says how to run it
 * (epoch_transitions_only=True, restore_best=False), that the names need
 * the LightningModule's attribute prefix, and that frozen BatchNorm
 * statistics keep moving under FTS (frozen_bn_track_running_stats, as
 * `batchnorm: train`), which no schedule key changes.
 */
#include "export.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/stages.h"

/* train.optimizer.lr when the plan leaves it out (docs/training.md). */
#define FTS_TUI_DEFAULT_LR 1e-3

/* 1 when tensor i is a name of named_parameters() (no tied alias). */
static int named_param(const session *s, size_t i)
{
    return export_is_param(s, i) &&
           !(table_at(&s->t, i)->flags & TF_ALIAS);
}

/* What the schedule cannot say, before anything is resolved. */
static int check_plan(const session *s, const plan *p)
{
    const char *src = export_source(s);
    for (size_t k = 0; k < p->nstages; k++)
        if (p->stages[k].steps != PLAN_UNSET)
            return err_set("%s: stage %zu's length is in steps "
                           "(steps: %llu); FinetuningScheduler changes "
                           "phase only at an epoch's start "
                           "(max_transition_epoch), so this plan cannot be "
                           "exported: give the stages epochs:", src, k,
                           (unsigned long long)p->stages[k].steps);
    if (p->nlr_scale || !isnan(p->layer_decay))
        return err_set("%s: %s sets learning rates per tensor; a "
                       "FinetuningScheduler phase has one lr for all its "
                       "tensors, so this plan cannot be exported", src,
                       p->nlr_scale ? "lr_scale:" : "layer_decay:");
    if (p->nno_decay)
        return err_set("%s: no_decay: has no place in a FinetuningScheduler "
                       "schedule (its new groups take weight decay from the "
                       "optimizer and the LightningModule's no_decay "
                       "substrings), so this plan cannot be exported", src);
    return 0;
}

/* The first named parameter trainable in `a` and frozen in `b`, or
 * t.count when there is none. */
static size_t first_refrozen(const session *s, const bitset *a,
                             const bitset *b)
{
    for (size_t i = 0; i < s->t.count; i++)
        if (named_param(s, i) && !bitset_get(a, i) && bitset_get(b, i))
            return i;
    return s->t.count;
}

/* What the resolved stages cannot say: a stage freezing again, a stage 0
 * that trains nothing, a name YAML cannot hold. */
static int check_sets(const session *s, const stage_sets *st)
{
    const char *src = export_source(s);
    for (size_t k = 1; k < st->n; k++) {
        size_t i = first_refrozen(s, &st->frozen[k - 1], &st->frozen[k]);
        if (i < s->t.count)
            return err_set("%s: stage %zu freezes again %zu parameter%s "
                           "that trained before it ('%s'%s); "
                           "FinetuningScheduler only thaws, so this plan "
                           "cannot be exported", src, k, st->refrozen[k],
                           st->refrozen[k] == 1 ? "" : "s",
                           table_name(&s->t, i),
                           st->refrozen[k] > 1 ? ", ..." : "");
    }
    size_t trained = 0;
    for (size_t i = 0; i < s->t.count; i++) {
        if (!named_param(s, i) || bitset_get(&st->frozen[st->n - 1], i))
            continue; /* never listed */
        const char *name = table_name(&s->t, i);
        if (export_check_utf8(s, name, strlen(name)))
            return -1;
        trained += !bitset_get(&st->frozen[0], i);
    }
    if (trained == 0)
        return err_set("%s: %s; FinetuningScheduler's phase 0 is the "
                       "optimizer's first parameters, which cannot be "
                       "empty, so this plan cannot be exported", src,
                       st->n > 1 ? "stage 0 trains no parameter"
                                 : "every parameter is frozen");
    return 0;
}

/* The end of phase k (the epoch the next stage starts at: the stages'
 * epochs through k), or PLAN_UNSET for a last phase whose end the plan
 * does not give in epochs (train.epochs, else the last stage's end). */
static uint64_t phase_end(const plan *p, size_t n, size_t k)
{
    uint64_t at = 0; /* only the last stage may lack a length */
    for (size_t j = 0; j <= k && j < p->nstages && at != PLAN_UNSET; j++)
        at = p->stages[j].epochs == PLAN_UNSET ? PLAN_UNSET
                                               : at + p->stages[j].epochs;
    if (k + 1 < n)
        return at;
    if (p->train.max_steps != PLAN_UNSET)
        return PLAN_UNSET;
    if (p->train.epochs != PLAN_UNSET)
        return p->train.epochs;
    return p->nstages ? at : PLAN_UNSET;
}

/* The phases: each one's names in natural tree order. */
static void write_phases(FILE *out, const session *s, const plan *p,
                         const stage_sets *st, double base_lr)
{
    const tree *tr = &s->tr;
    char num[48];
    for (size_t k = 0; k < st->n; k++) {
        const plan_stage *g = k < p->nstages ? &p->stages[k] : NULL;
        uint64_t end = phase_end(p, st->n, k);
        size_t listed = 0;
        fprintf(out, "%zu:\n  params:", k);
        for (size_t j = 1; j < tr->count; j++) {
            long i = tr->nodes[j].tensor;
            if (i < 0 || !named_param(s, (size_t)i) ||
                bitset_get(&st->frozen[k], (size_t)i) ||
                (k > 0 && !bitset_get(&st->frozen[k - 1], (size_t)i)))
                continue;
            const char *name = table_name(&s->t, (size_t)i);
            fputs("\n  - ", out);
            export_yaml_string(out, name, strlen(name));
            listed++;
        }
        fputs(listed ? "\n" : " []\n", out);
        if (end != PLAN_UNSET)
            fprintf(out, "  max_transition_epoch: %llu\n",
                    (unsigned long long)end);
        if (k > 0) {
            plan_double_text(g && plan_has_number(g->lr) ? g->lr : base_lr,
                          num, sizeof num);
            fprintf(out, "  lr: %s\n", num);
        }
    }
}

/* 1 when the model has BatchNorm-like layers (a `running_mean` buffer). */
static int has_batchnorm(const session *s)
{
    static const char suffix[] = "running_mean";
    for (size_t i = 0; i < s->t.count; i++) {
        const char *name = table_name(&s->t, i);
        size_t len = strlen(name);
        if (len >= sizeof suffix - 1 &&
            strcmp(name + len - (sizeof suffix - 1), suffix) == 0)
            return 1;
    }
    return 0;
}

/* The comment at the top: what FTS does with it, and how to run it so
 * that it trains the plan. */
static void write_header(FILE *out, const session *s, const plan *p,
                         const stage_sets *st, double base_lr)
{
    int own_lr = plan_has_number(p->train.optimizer.lr);
    char num[48];
    int ended = phase_end(p, st->n, st->n - 1) != PLAN_UNSET;
    plan_double_text(base_lr, num, sizeof num);
    fputs("# Lightning FinetuningScheduler schedule (ft_schedule; "
          "docs/cli.md), from ", out);
    /* a comment ends at any YAML line break (U+0085 and U+2028 too) and
     * must be UTF-8: only printable ASCII is shown, '?' for the rest */
    for (const unsigned char *c = (const unsigned char *)export_source(s);
         *c; c++)
        fputc(*c >= 0x20 && *c < 0x7f ? *c : '?', out);
    fprintf(out, ".\n# Everything is frozen, phase 0's names train; at the "
            "start of epoch\n# max_transition_epoch (0-based) the next "
            "phase's names thaw as a new\n# optimizer group at its lr. Phase "
            "0's lr is the optimizer's (%s: %s).\n# The names are "
            "the checkpoint's; FTS looks them up in the LightningModule's\n"
            "# named_parameters() (a model kept as self.model needs "
            "'model.' before them).\n",
            own_lr ? "the plan's" : "tui's default", num);
    if (ended)
        fputs("# Run it with FinetuningScheduler(ft_schedule=..., "
              "epoch_transitions_only=True,\n# restore_best=False) to keep "
              "the plan's epochs and weights.\n", out);
    else
        fputs("# The last phase runs until the Trainer stops (the plan "
              "gives no end in\n# epochs); restore_best=False keeps the "
              "plan's weights at transitions.\n", out);
    if (p->batchnorm != PLAN_BN_TRAIN && has_batchnorm(s))
        fputs("# Frozen BatchNorm layers keep updating their statistics "
              "under FTS\n# (frozen_bn_track_running_stats), as batchnorm: "
              "train, not freeze-stats.\n", out);
}

int export_fts(FILE *out, const session *s)
{
    plan none;
    stage_sets st;
    int rc = -1;
    plan_init(&none);
    memset(&st, 0, sizeof st);
    const plan *p = s->has_base ? &s->base : &none;
    if (check_plan(s, p) ||
        stages_resolve(&s->t, p, &s->fs.frozen, export_source(s), &st) ||
        check_sets(s, &st))
        goto out;
    double base_lr = plan_has_number(p->train.optimizer.lr)
                         ? p->train.optimizer.lr
                         : FTS_TUI_DEFAULT_LR;
    write_header(out, s, p, &st, base_lr);
    write_phases(out, s, p, &st, base_lr);
    rc = export_finish(out);
out:
    stage_sets_free(&st);
    plan_free(&none);
    return rc;
}
