/* jsonw.c: JSON string escaping (see jsonw.h). */
#include "jsonw.h"

#include "../core/utf8.h"

void jsonw_string(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    putc('"', f);
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_valid_prefix(p + i, len - i);
            if (n == 0) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(p + i, 1, n, f);
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                putc(c, f);
        }
        i++;
    }
    putc('"', f);
}
