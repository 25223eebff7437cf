/* preset_staged.h: the staged computed presets (preset_gen.h):
 * gradual-unfreeze, fine-tune and layer-decay, made from the layer groups
 * layer_decay finds (stages.h). Each fills a preset_gen_out; the
 * parameters are those of preset_gen.c's table, in its order. */
#ifndef TUI_CORE_PRESET_STAGED_H
#define TUI_CORE_PRESET_STAGED_H

#include "preset_gen.h"

/* vals: epochs, steps, stages. Returns 0, or -1 with err set (fewer than
 * two layer groups). */
int preset_staged_gradual(const table *t, const long long *vals,
                          preset_gen_out *out);

/* vals: freeze_epochs, lr_mult. Returns 0, or -1 with err set. */
int preset_staged_fine_tune(const table *t, const long long *vals,
                            preset_gen_out *out);

/* vals: factor (hundredths). Returns 0, or -1 with err set. */
int preset_staged_layer_decay(const table *t, const long long *vals,
                              preset_gen_out *out);

#endif
