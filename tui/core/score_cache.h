/* score_cache.h: the spectral scores `tui --rank snr` computed, kept on
 * disk per checkpoint, so that a later --rank, the `spectrum` preset and
 * the editor's score column read them instead of scoring again
 * (docs/inspect.md, "The score cache").
 *
 * Where: $TUI_CACHE_DIR/scores/ when TUI_CACHE_DIR is set (`off`: no
 * cache at all), else $XDG_CACHE_HOME/tui/scores/ (XDG_CACHE_HOME
 * absolute), else ~/.cache/tui/scores/; one file per tensor list,
 * named by the checkpoint's fingerprint (fingerprint.h): <64 hex>.snr.
 *
 * When it is used: the fingerprint (names, dtypes, shapes), every file's
 * size and modification time (to the nanosecond), and a hash of a sample
 * of each scored tensor's bytes (its first, middle and last 256) must all
 * be as they were when the scores were computed; anything else is a
 * stale cache, ignored. The file is untrusted input: bounded in size,
 * every field checked, a checksum over it all.
 *
 * Format (little-endian; all sizes checked on reading):
 *   "tui-snr\n"  u32 version (1)  u32 nfiles  i64 created (unix seconds)
 *   64 bytes: the fingerprint's hex digits
 *   nfiles x { u64 size  i64 mtime_sec  u32 mtime_nsec  u32 0 }
 *   u64 ntensors
 *   ntensors x { u32 name_len  name  u64 sample  u64 m  u64 n
 *                f64 score  f64 snr  f64 smax }
 *   u64 FNV-1a 64 of every byte before it
 *
 * Core: no inspect/ headers; the scores are plain numbers here.
 */
#ifndef TUI_CORE_SCORE_CACHE_H
#define TUI_CORE_SCORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "bitset.h"
#include "table.h"

#define SCORE_CACHE_VERSION 1u

typedef struct {
    double score;   /* Spectrum's snr / max(S) */
    double snr;     /* the ratio of sums (scale-invariant) */
    double smax;    /* the largest singular value */
    uint64_t m, n;  /* the matrix as scored */
} score_entry;

typedef struct {
    uint64_t size;
    int64_t sec;
    uint32_t nsec;
} score_stamp;

typedef struct {
    size_t count;        /* the table's tensors */
    score_entry *e;      /* count entries; e[i] holds when bit i of have */
    bitset have;
    size_t n;            /* bits set in have */
    int64_t created;     /* when the scores on disk were written (unix s;
                            0: not from disk) */
    score_stamp *stamp;  /* each file of the table as score_cache_open
                            found it (nfiles) */
    size_t nfiles;
} score_cache;

/* Makes an empty cache for table t and takes its files' stamps (size,
 * mtime) now: scores computed after this are saved against them, so a
 * file changed while scoring makes the saved cache stale. Returns 0, or
 * -1 with err set (out of memory, a file that cannot be stat'ed); *c is
 * then empty and safe to score_cache_free. */
int score_cache_open(score_cache *c, const table *t);

/* Frees what c holds. NULL-safe, idempotent. */
void score_cache_free(score_cache *c);

/* Records tensor i's scores (i < c->count). Cannot fail. */
void score_cache_put(score_cache *c, size_t i, const score_entry *e);

/* 1 when tensor i of t can have a score: a parameter with a floating
 * dtype (F64, F32, F16, BF16, F8), at least one dimension and one
 * element, not sparse. Cannot fail. */
int score_cache_tensor_ok(const table *t, size_t i);

/* The matrix tensor i is scored as: 1 x numel for a 1-D tensor, else
 * shape[0] x the rest. Cannot fail. */
void score_cache_dims(const table *t, size_t i, uint64_t *m, uint64_t *n);

/* The cache file of t into buf (cap bytes). Returns 1 with the path,
 * 0 when caching is off (TUI_CACHE_DIR=off; buf ""), or -1 with err set
 * (no HOME, the path too long, out of memory). */
int score_cache_path(const table *t, char *buf, size_t cap);

/* Reads t's cache into c (score_cache_open'ed for t, nothing put yet).
 * Returns 1 when it was read (c->have, c->n, c->created set), 0 when
 * there is none (no file, caching off), or -1 with err set to one line
 * ("ignoring the score cache PATH: truncated at byte 96", "...: the
 * checkpoint changed since (m.safetensors: size or time)"); c then holds
 * no scores. Never trusts the file: sizes, names, dims and the checksum
 * are checked. */
int score_cache_load(score_cache *c, const table *t);

/* Writes c's scores for t atomically (atomic.h), creating the folder
 * (0700) when missing, with c's stamps and each tensor's sample hash
 * now. Returns 1 when written, 0 when caching is off, or -1 with err set
 * (the folder or file cannot be written, a tensor's file cannot be
 * read). c is untouched; the old cache file stays on failure. */
int score_cache_save(const score_cache *c, const table *t);

#endif
