/* headless.h: runs `tui --headless` through the trainer library. */
#ifndef TUI_CLI_HEADLESS_H
#define TUI_CLI_HEADLESS_H

#include "../train/train.h"

/* Finds libtui-train.so ($TUI_TRAIN_LIB, next to the binary, or in
 * ../lib/tui), loads it and calls its entry. Returns the process exit
 * status; 2 with one line on stderr when there is no trainer in this
 * build or it cannot be loaded. */
int headless_run(const train_options *o);

#endif
