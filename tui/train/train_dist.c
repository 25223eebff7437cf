/* train_dist.c: the data-parallel trainer's membership of its group
 * (docs/distributed.md): the launcher's environment (torchrun, hand-set
 * variables, SLURM), joining the c10d group through the shim, the
 * agreement every rank checks before step 1, and rank 0's module copied
 * to all. The steps themselves reduce through ts_trainer_set_dist. */
#include <errno.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/ts_dist.h"
#include "../core/err.h"
#include "../core/fingerprint.h"
#include "train_impl.h"

/* An environment variable as an integer in [lo, hi]: 1 with *out set, 0
 * when unset, -1 with err set when it is not such a number. */
static int env_int(const char *name, long lo, long hi, long *out)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return err_set("%s=%s: expected a whole number in %ld..%ld", name, v,
                       lo, hi);
    *out = x;
    return 1;
}

int train_dist_env(trainer *t)
{
    long rank = 0, world = 1, local = 0;
    const char *rn = "RANK", *wn = "WORLD_SIZE", *ln = "LOCAL_RANK";
    t->rank = 0;
    t->world = 1;
    t->local_rank = 0;
    if (!getenv("RANK") && !getenv("WORLD_SIZE") && getenv("SLURM_PROCID") &&
        getenv("SLURM_NTASKS")) {
        rn = "SLURM_PROCID";
        wn = "SLURM_NTASKS";
        ln = "SLURM_LOCALID";
    }
    int hr = env_int(rn, 0, INT_MAX - 1, &rank);
    int hw = env_int(wn, 1, 65536, &world);
    if (hr < 0 || hw < 0 || env_int(ln, 0, 65535, &local) < 0)
        return -1;
    if (hr != hw)
        return err_set("%s is set but %s is not: set both (torchrun does), "
                       "or neither for one process", hr ? rn : wn,
                       hr ? wn : rn);
    uint64_t want = t->pl.train.world_size;
    if (want != PLAN_UNSET && want != (uint64_t)(hr ? world : 1))
        return err_set("%s: train.world_size is %llu, and this run has %ld "
                       "process%s (%s)", t->plan_path,
                       (unsigned long long)want, hr ? world : 1,
                       hr && world != 1 ? "es" : "", hr ? wn : "no launcher");
    if (!hr)
        return 0; /* WORLD_SIZE=1 set: a group of one, the same path */
    if (rank >= world)
        return err_set("%s=%ld is not below %s=%ld", rn, rank, wn, world);
    long port = 0;
    int hp = env_int("MASTER_PORT", 1, 65535, &port);
    if (hp < 0)
        return -1;
    if (!getenv("MASTER_ADDR") || !*getenv("MASTER_ADDR") || !hp)
        return err_set("%s=%ld of %s=%ld: MASTER_ADDR and MASTER_PORT must "
                       "name the rank-0 host and a free port "
                       "(docs/distributed.md)", rn, rank, wn, world);
    t->rank = (int)rank;
    t->world = (int)world;
    t->local_rank = (int)local;
    t->master_port = (int)port;
    snprintf(t->master_addr, sizeof t->master_addr, "%s",
             getenv("MASTER_ADDR"));
    return 0;
}

int train_dist_join(trainer *t)
{
    if (!t->master_port)
        return 0;
    const char *agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
    int use_agent = agent && (strcmp(agent, "True") == 0 ||
                              strcmp(agent, "true") == 0 ||
                              strcmp(agent, "1") == 0);
    char prefix[64] = "";
    if (use_agent) {
        long attempt = 0;
        if (env_int("TORCHELASTIC_RESTART_COUNT", 0, INT_MAX, &attempt) < 0)
            return -1;
        snprintf(prefix, sizeof prefix, "/worker/attempt_%ld", attempt);
    }
    ts_dist_config c = {t->rank, t->world, t->master_addr, t->master_port,
                        !use_agent && t->rank == 0, prefix, t->dist_timeout,
                        t->device};
    if (ts_dist_join(&c, &t->dist) < 0)
        return err_set("rank %d of %d: joining %s:%d: %s", t->rank, t->world,
                       t->master_addr, t->master_port, ts_last_error());
    return 0;
}

int train_dist_ready(trainer *t, int failed)
{
    if (!t->dist)
        return failed ? -1 : 0;
    double v = failed ? 1.0 : 0.0;
    if (ts_dist_sum(t->dist, &v, 1) < 0)
        return err_set("rank %d: lost a peer before step 1: %s", t->rank,
                       ts_last_error());
    if (failed)
        return -1; /* this rank's own reason stays in err */
    if (v > 0)
        return err_set("rank %d: %g of %d ranks failed to start (each says "
                       "why on its own line)", t->rank, v, t->world);
    return 0;
}

/* What every rank must agree on, as four digests. */
enum { AG_PLAN, AG_MODEL, AG_DATA, AG_SETTINGS, AG_COUNT };
static const char *const ag_names[AG_COUNT] = {
    "the frozen set (the plan)", "the model's tensors (names, dtypes, shapes)",
    "the data (samples for training and validation)",
    "the settings (seed, batch size, steps, optimizer, schedule)"};

static void digest_text(unsigned char out[32], const char *s, size_t n)
{
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, n, (const uint8_t *)s);
    sha256_digest(&h, 32, out);
}

/* A staged plan's part of the plan digest: each stage's first step, lr
 * and frozen set, and every tensor's lr scale and weight decay. */
static void stages_digest(const trainer *t, struct sha256_ctx *h)
{
    if (!t->staged)
        return;
    for (size_t k = 0; k < t->stages.n; k++) {
        double lr = k && k < t->pl.nstages ? t->pl.stages[k].lr : t->lr;
        char buf[64];
        int n = snprintf(buf, sizeof buf, "stage %llu %.17g",
                         (unsigned long long)t->stage_start[k], lr);
        sha256_update(h, (size_t)n, (const uint8_t *)buf);
        for (size_t i = 0; i < t->mt.count; i++)
            if (bitset_get(&t->stages.frozen[k], i))
                sha256_update(h, table_at(&t->mt, i)->name_len + 1,
                              (const uint8_t *)table_name(&t->mt, i));
    }
    for (size_t i = 0; i < t->mt.count; i++) {
        char buf[48];
        int n = snprintf(buf, sizeof buf, "%.17g %d", t->lrs.scale[i],
                         t->lrs.no_decay[i]);
        sha256_update(h, (size_t)n, (const uint8_t *)buf);
    }
}

static int digests(trainer *t, unsigned char d[AG_COUNT][32])
{
    struct sha256_ctx h;
    char fp[72], buf[1024];
    sha256_init(&h);
    for (size_t i = 0; i < t->mt.count; i++)
        if (bitset_get(&t->frozen, i))
            sha256_update(&h, table_at(&t->mt, i)->name_len + 1,
                          (const uint8_t *)table_name(&t->mt, i));
    for (size_t i = 0; i < t->neval; i++)
        sha256_update(&h, strlen(t->eval_paths[i]) + 1,
                      (const uint8_t *)t->eval_paths[i]);
    stages_digest(t, &h);
    sha256_digest(&h, 32, d[AG_PLAN]);
    if (table_fingerprint(&t->mt, fp) < 0)
        return -1;
    digest_text(d[AG_MODEL], fp, strlen(fp));
    int n = snprintf(buf, sizeof buf, "%lld %lld %lld", (long long)t->n_train,
                     (long long)t->n_val, (long long)t->val_start);
    digest_text(d[AG_DATA], buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%llu %llu %llu %s %.17g %.17g %.17g %.17g "
                 "%.17g %.17g %.17g %s %llu %s %s %s",
                 (unsigned long long)t->seed, (unsigned long long)t->batch,
                 (unsigned long long)t->total, t->opt, t->lr, t->wd,
                 t->momentum, t->beta1, t->beta2, t->eps, t->clip, t->sched,
                 (unsigned long long)t->warmup, t->loss, t->precision,
                 t->device);
    digest_text(d[AG_SETTINGS], buf, (size_t)(n < (int)sizeof buf ? n
                                              : (int)sizeof buf - 1));
    return 0;
}

int train_dist_agree(trainer *t)
{
    if (!t->dist)
        return 0;
    unsigned char mine[AG_COUNT][32], root[AG_COUNT][32];
    double differ[AG_COUNT];
    if (digests(t, mine) < 0)
        return -1;
    memcpy(root, mine, sizeof root);
    if (ts_dist_broadcast_bytes(t->dist, root, sizeof root) < 0)
        return err_set("rank %d: lost a peer before step 1: %s", t->rank,
                       ts_last_error());
    for (int k = 0; k < AG_COUNT; k++)
        differ[k] = memcmp(mine[k], root[k], 32) != 0;
    if (ts_dist_sum(t->dist, differ, AG_COUNT) < 0)
        return err_set("rank %d: lost a peer before step 1: %s", t->rank,
                       ts_last_error());
    for (int k = 0; k < AG_COUNT; k++)
        if (differ[k] > 0)
            return err_set("rank %d: the ranks disagree on %s: %g of %d "
                           "differ from rank 0's%s; every rank must run the "
                           "same plan on the same files", t->rank,
                           ag_names[k], differ[k], t->world,
                           memcmp(mine[k], root[k], 32) ? ", this one too"
                                                        : "");
    /* the next step is the wrapper's first when it starts the run or
     * its stage (a resumed run past that reduces in the rebuilt layout
     * at once, as the uninterrupted one) */
    uint64_t wrapped = t->staged ? t->stage_start[t->stage] : 0;
    if (ts_dist_broadcast_module(t->dist, t->mod) < 0 ||
        ts_trainer_set_dist(t->tr, t->dist, t->step == wrapped) < 0)
        return err_set("rank %d: %s", t->rank, ts_last_error());
    return 0;
}

void train_dist_leave(trainer *t)
{
    ts_dist_free(t->dist);
    t->dist = NULL;
}
