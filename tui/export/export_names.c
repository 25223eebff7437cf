/* export_names.c: `--export names`, the frozen parameter names.
 *
 * Consumer: people's own loops and scripts, e.g.
 *   frozen = set(open("frozen.txt").read().split("\n"))
 *   for n, p in model.named_parameters(): p.requires_grad = n not in frozen
 * One name a line, in table (file) order. A tie group is frozen as a
 * whole and lists every one of its names, as a plan's frozen list does:
 * model.named_parameters() yields only the first of them, and the
 * others (state_dict() names) are there for scripts that read those.
 */
#include "export.h"

int export_names(FILE *out, const session *s)
{
    for (size_t i = 0; i < s->t.count; i++)
        if (export_is_param(s, i) && freeze_is_frozen(&s->fs, i))
            fprintf(out, "%s\n", table_name(&s->t, i));
    return export_finish(out);
}
