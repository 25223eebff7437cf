/* human.h: numbers for people, one format for the editor and the command
 * line: counts with thousands separators, byte sizes in binary units,
 * percentages that never round to 0.0% or 100.0% unless exact, and the
 * plural of a noun. No allocation; every function writes into the
 * caller's buffer and cannot fail (a short buffer truncates). */
#ifndef TUI_CORE_HUMAN_H
#define TUI_CORE_HUMAN_H
#include <stddef.h>

/* n with thousands separators ("11,689,512") into buf. Returns buf. */
const char *human_count(unsigned long long n, char *buf, size_t cap);

/* A byte count ("44.6 MiB", "512 B") into buf. Returns buf. */
const char *human_bytes(unsigned long long n, char *buf, size_t cap);

/* part of whole as a percentage with one decimal ("12.5%"), "0.0%" and
 * "100.0%" only when exact: a non-zero share that rounds to zero is
 * "<0.1%", a share short of the whole that rounds to 100 is ">99.9%".
 * whole 0 gives "0.0%". Returns buf. */
const char *human_percent(unsigned long long part, unsigned long long whole,
                          char *buf, size_t cap);

/* `one` when n is 1, else `many` ("1 tensor", "2 tensors"). Returns one of
 * its arguments. */
const char *human_plural(unsigned long long n, const char *one,
                         const char *many);
#endif
