/* ts_dist.h: data-parallel training over c10d, PyTorch's own
 * distributed engine (docs/distributed.md): a TCPStore (hosted here, or
 * torchrun's agent store joined as a client under its key prefix), a
 * process group (gloo on the CPU; NCCL on CUDA only in builds against a
 * libtorch that has it), and the collectives the trainer needs, with
 * DistributedDataParallel's semantics (PyTorch 1.13 defaults):
 * parameters and buffers broadcast from rank 0 at the start, buffers
 * broadcast from rank 0 before every training forward, the gradients of
 * trainable tensors multiplied by 1/W and summed (in DDP's bucket
 * layout; a staged run wraps the module anew at each stage boundary),
 * the step's loss and accuracy summed over the ranks so that every rank
 * sees the same figures and stops at the same step.
 *
 * Same conventions as ts.h: 0 ok, -1 with ts_last_error set; nothing
 * throws across the boundary; *_free(NULL) is a no-op. A collective that
 * loses a peer fails (after the group's timeout at the latest) with the
 * transport's reason.
 */
#ifndef TUI_SHIM_TS_DIST_H
#define TUI_SHIM_TS_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "ts.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ts_dist ts_dist; /* one process's membership of a group */

typedef struct {
    int rank, world;        /* 0 <= rank < world */
    const char *addr;       /* MASTER_ADDR: the store's host */
    int port;               /* MASTER_PORT */
    int host_store;         /* 1: this process hosts the store (rank 0
                               without an agent store); 0: a client */
    const char *prefix;     /* key prefix in the store ("" or NULL: none;
                               torchrun's agent: "/worker/attempt_N") */
    double timeout_s;       /* the store's and the group's timeout */
    const char *device;     /* "cpu" (gloo) or "cuda" (NCCL) */
} ts_dist_config;

/* Joins the group: connects to (or hosts) the store and builds the
 * process group; returns when every rank has joined. *out is new, freed
 * with ts_dist_free. `c` is copied. Returns 0, or -1 with the error set
 * ("rendezvous: Socket Timeout", "this libtorch has no NCCL": *out
 * NULL). */
int ts_dist_join(const ts_dist_config *c, ts_dist **out);

/* 1 once a collective of d has failed (a peer closed its connection, or
 * did not answer within the timeout): the error was the group's, not
 * this rank's. 0 otherwise, and for NULL. Cannot fail. */
int ts_dist_lost(const ts_dist *d);

/* Leaves the group. NULL-safe. */
void ts_dist_free(ts_dist *d);

/* Copies rank 0's parameters and buffers of `m` into every rank's
 * (coalesced by dtype), as DDP does when it wraps a module. The module's
 * tensors must match across the ranks (ts_dist_sum on a digest first).
 * Returns 0, or -1 with the error set. */
int ts_dist_broadcast_module(ts_dist *d, ts_module *m);

/* Sums n doubles over the ranks, in place (float64 allreduce). Returns 0,
 * or -1 with the error set (v then undefined). */
int ts_dist_sum(ts_dist *d, double *v, size_t n);

/* Copies rank 0's n bytes at buf into every rank's buf. Returns 0, or -1
 * with the error set. */
int ts_dist_broadcast_bytes(ts_dist *d, void *buf, size_t n);

/* Makes t's steps data-parallel over d (d must outlive t): each step
 * broadcasts the buffers from rank 0 before the forward, sums the loss
 * and accuracy over the ranks (r->loss is then the mean of the ranks'
 * losses, finite on every rank or on none), and reduces the gradients
 * before clipping and the update, of the parameters in t that require
 * grad now, in module order (DDP's Reducer over the module as it is
 * wrapped). `fresh` 1: the next step is the wrapper's first (as after
 * DDP's construction: one bucket per dtype in parameter order, then the
 * layout rebuilt from that step's ready order); 0: a resumed run whose
 * wrapper has taken steps already (the next step records the ready
 * order and reduces in the rebuilt layout, as the uninterrupted run
 * does). Does not broadcast the module (ts_dist_broadcast_module).
 * Returns 0, or -1. */
int ts_trainer_set_dist(ts_trainer *t, ts_dist *d, int fresh);

/* At a stage boundary, after parameters stopped or started requiring
 * grad (and joined t): wraps the module anew, as the Python route builds
 * a new DistributedDataParallel there: rank 0's parameters and buffers
 * copied to every rank (its _sync_module_states), the reduced parameters
 * those that require grad now, in module order, and the next step the
 * new wrapper's first (ts_trainer_set_dist with fresh 1). Nothing to do
 * (0) when t has no group. Returns 0, or -1 with the error set (a lost
 * peer: ts_dist_lost). */
int ts_trainer_dist_rewrap(ts_trainer *t);

/* Rank `rank`'s share of a permutation as DistributedSampler takes it
 * (drop_last False): the permutation padded to ceil(n/W)*W with its own
 * head (repeated when needed), then every W-th index from `rank`. *out
 * (ceil(n/W) int64 values) is new, freed with ts_tensor_free. Returns 0,
 * or -1. */
int ts_dist_shard(const ts_tensor *perm, int rank, int world,
                  ts_tensor **out);

#ifdef __cplusplus
}
#endif

#endif
