/* utf8.h: UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
#ifndef TUI_CORE_UTF8_H
#define TUI_CORE_UTF8_H

#include <stddef.h>

/* Length in bytes of the one valid UTF-8 sequence at the start of `s`
 * (1 to 4), or 0 when `s` does not start with one (or len is 0). */
size_t utf8_valid_prefix(const unsigned char *s, size_t len);

/* 1 when all `len` bytes are valid UTF-8, else 0. When invalid and `bad`
 * is not NULL, *bad receives the offset of the first bad byte. */
int utf8_valid(const unsigned char *s, size_t len, size_t *bad);

#endif
