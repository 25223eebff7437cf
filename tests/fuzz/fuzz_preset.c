/* fuzz_preset.c: libFuzzer target for presets: the YAML preset reader,
 * its template checks, and expansion (templates, ranges, `if:`) and
 * application to a table.
 *
 * Input: the first line is a preset spec as given to --preset
 * ("fz:n=3,k=1"); the rest is the preset file, written to <dir>/fz.yaml
 * (so its name: must be fz to load). A loaded preset is expanded three
 * ways: with the spec's arguments and the model variables of a fixed
 * name table, with its defaults and no model, and with its defaults and
 * the model; each expansion is applied to the table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/bitset.h"
#include "../../tui/core/err.h"
#include "../../tui/core/preset.h"
#include "../../tui/core/table.h"
#include "fuzz_util.h"

static table names;
static preset_vars vars;
static char path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    table_init(&names);
    fz_fill_names(&names);
    if (preset_vars_from_table(&names, &vars))
        abort();
    snprintf(path, sizeof path, "%s/fz.yaml", fz_tmpdir());
    return 0;
}

static void expand_apply(const preset *p, const char *args,
                         const preset_vars *v)
{
    preset_expansion e;
    memset(&e, 0, sizeof e);
    if (preset_expand(p, args, v, &e) == 0) {
        if (e.n > PRESET_MAX_RULES)
            abort();
        bitset frozen;
        if (bitset_init(&frozen, names.count))
            abort();
        bitset_zero(&frozen);
        size_t empty = 0;
        if (preset_apply(&e, &names, &frozen, &empty) == 0 && empty > e.n)
            abort();
        bitset_free(&frozen);
    } else if (!err_msg()[0]) {
        abort();
    }
    preset_expansion_free(&e);
    err_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nl = memchr(d, '\n', size);
    size_t slen = nl ? (size_t)(nl - d) : size;
    char *spec = malloc(slen + 1);
    if (!spec)
        abort();
    memcpy(spec, d, slen);
    spec[slen] = '\0';
    size_t off = nl ? slen + 1 : size;
    fz_write_file(path, d + off, size - off);

    preset p;
    memset(&p, 0, sizeof p);
    char name[PRESET_MAX_NAME + 1];
    const char *args = "";
    if (preset_split_spec(spec, name, sizeof name, &args) != 0)
        args = "";
    if (preset_load(path, &p) == 0) {
        if (strcmp(p.name, "fz") != 0 || p.nparams > PRESET_MAX_PARAMS ||
            p.nrules > PRESET_MAX_RULES)
            abort();
        expand_apply(&p, args, &vars);
        expand_apply(&p, NULL, NULL);
        expand_apply(&p, "", &vars);
    } else if (!err_msg()[0]) {
        abort();
    }
    preset_free(&p);
    free(spec);
    err_clear();
    return 0;
}
