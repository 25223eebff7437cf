/* path.h: the folder part of a path, one rule for every module (plans,
 * atomic writes, the editor's session). */
#ifndef TUI_CORE_PATH_H
#define TUI_CORE_PATH_H

/* The folder part of `path`, malloc'ed (the caller frees): everything
 * before the last '/', "/" for a name at the root, "." when `path` has
 * no '/'. NULL when out of memory. `path` is untouched. */
char *path_dir(const char *path);

#endif
