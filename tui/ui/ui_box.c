/* ui_box.c: boxes painted over the screen: a text box (wrapped to the
 * screen, scrollable, closed by a key), an error box and a one-key
 * question. A key that closes a text or error box is not lost: unless
 * it is one that only closes (Esc, q, Enter), the screen under the box
 * reads it next, as if the box had not been there (an error up, j
 * closes it and moves the cursor).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_impl.h"

static void fill(int n)
{
    for (int i = 0; i < n; i++)
        addch(' ');
}

static int put_str(const ui *u, const char *s, int width)
{
    return ui_put(u, s, strlen(s), width);
}

/* --- boxes --- */

int ui_draw_box(ui *u, const char *title, const char *text, int first,
                const char *footer)
{
    int nl = 1, maxw = (int)strlen(title) + 4;
    for (const char *p = text, *e; *p; p = e + 1) {
        e = strchr(p, '\n');
        if (!e)
            e = p + strlen(p);
        int w = ui_width(p, (size_t)(e - p));
        if (w > maxw)
            maxw = w;
        if (!*e)
            break;
        nl++;
    }
    if (footer && (int)strlen(footer) + 4 > maxw)
        maxw = (int)strlen(footer) + 4;
    int bw = maxw + 4 < u->cols - 2 ? maxw + 4 : u->cols - 2;
    int bh = nl + 2 < u->rows - 2 ? nl + 2 : u->rows - 2;
    if (bw < 4 || bh < 3)
        return 0;
    int y0 = (u->rows - bh) / 2, x0 = (u->cols - bw) / 2;
    int shown = bh - 2;
    attrset(ui_color_attr(u, UIC_BOX));
    for (int y = 0; y < bh; y++) {
        move(y0 + y, x0);
        fill(bw);
    }
    move(y0, x0);
    addch(u->utf8 ? ' ' : '+');
    attron(A_BOLD);
    put_str(u, title, bw - 2);
    attroff(A_BOLD);
    if (footer) {
        move(y0 + bh - 1, x0 + 1);
        put_str(u, footer, bw - 2);
    }
    int line = 0;
    for (const char *p = text, *e; *p; p = e + 1) {
        e = strchr(p, '\n');
        if (!e)
            e = p + strlen(p);
        if (line >= first && line - first < shown) {
            move(y0 + 1 + line - first, x0 + 2);
            ui_put(u, p, (size_t)(e - p), bw - 4);
        }
        line++;
        if (!*e)
            break;
    }
    attrset(A_NORMAL);
    return shown;
}

/* Wraps text at `width` columns (at spaces where it can). Returns a
 * malloc'ed copy, or NULL when out of memory. */
static char *wrap_text(const char *text, int width)
{
    size_t len = strlen(text);
    char *out = malloc(len * 2 + 2);
    if (!out)
        return NULL;
    size_t k = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e)
            e = p + strlen(p);
        while (ui_width(p, (size_t)(e - p)) > width && width > 8) {
            /* the longest prefix that fits, cut at its last space */
            const char *cut = p;
            int w = 0;
            while (cut < e && w < width) {
                cut++;
                while (cut < e && ((unsigned char)*cut & 0xC0) == 0x80)
                    cut++;
                w++;
            }
            const char *sp = cut;
            while (sp > p && sp[-1] != ' ')
                sp--;
            if (sp > p + width / 3)
                cut = sp;
            memcpy(out + k, p, (size_t)(cut - p));
            k += (size_t)(cut - p);
            out[k++] = '\n';
            p = cut;
            out[k] = '\0';
            if (k + (size_t)(e - p) + 2 > len * 2)
                break;
        }
        memcpy(out + k, p, (size_t)(e - p));
        k += (size_t)(e - p);
        if (*e)
            out[k++] = '\n';
        p = *e ? e + 1 : e;
    }
    out[k] = '\0';
    return out;
}

/* Keys that only close a box; any other key that closes one is read
 * again by the screen under it (ungetch), so it is not lost. */
static int closes_only(int c)
{
    return c == 27 || c == 'q' || c == '\r' || c == '\n' ||
           c == KEY_ENTER || c == UI_KEY_INTERRUPT || c == 3;
}

/* Hands a key that closed a box back to the input, for the screen under
 * it; returns the key as the box's callers see it ('\n' for Enter, 27
 * for Esc and interrupts). */
static int pass_on(int c)
{
    if (c == '\r' || c == KEY_ENTER)
        return '\n';
    if (c == UI_KEY_INTERRUPT || c == 3)
        return 27;
    if (!closes_only(c) && c != KEY_MOUSE)
        ungetch(c);
    return c;
}

int ui_show_text(ui *u, const char *title, const char *text0)
{
    int first = 0, nl = 1, wcols = -1, c;
    char *wrapped = NULL;
    const char *text = text0;
    for (;;) {
        if (wcols != u->cols) {
            free(wrapped);
            wcols = u->cols;
            wrapped = wrap_text(text0, u->cols - 8);
            text = wrapped ? wrapped : text0;
            nl = 1;
            for (const char *p = text; *p; p++)
                nl += *p == '\n';
        }
        ui_draw(u);
        int scrolls = nl > u->rows - 4;
        int shown = ui_draw_box(u, title, text, first,
                                scrolls ? "arrows scroll, any other key closes"
                                        : "any key closes");
        refresh();
        c = ui_input(u);
        if (c == KEY_RESIZE)
            continue;
        if (!scrolls)
            break;
        if (c == KEY_DOWN || c == 'j') {
            if (first + shown < nl)
                first++;
        } else if (c == KEY_UP || c == 'k') {
            if (first > 0)
                first--;
        } else if (c == KEY_NPAGE || c == ' ') {
            first = first + shown < nl - shown ? first + shown
                                               : (nl > shown ? nl - shown : 0);
        } else if (c == KEY_PPAGE) {
            first = first > shown ? first - shown : 0;
        } else {
            break;
        }
    }
    free(wrapped);
    return pass_on(c);
}

int ui_show_error(ui *u, const char *title, const char *text,
                  const char *footer)
{
    int c;
    do {
        ui_draw(u);
        ui_draw_box(u, title, text, 0, footer ? footer : "any key closes");
        refresh();
        c = ui_input(u);
    } while (c == KEY_RESIZE);
    return pass_on(c);
}

int ui_ask(ui *u, const char *title, const char *text, const char *keys)
{
    for (;;) {
        ui_draw(u);
        ui_draw_box(u, title, text, 0, NULL);
        refresh();
        int c = ui_input(u);
        if (c == KEY_RESIZE)
            continue;
        if (c == 27 || c == UI_KEY_INTERRUPT)
            return 27;
        if (c == '\r' || c == KEY_ENTER)
            c = '\n';
        if (c > 0 && c < 256 && strchr(keys, c))
            return c;
    }
}
