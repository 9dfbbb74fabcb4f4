#ifndef FLAVOURKMOD_H
#define FLAVOURKMOD_H

#include <libkmod.h>
#include <stddef.h>

#pragma clang assume_nonnull begin

/* libkmod's entry points, resolved with dlopen(3) the first time a module must be loaded
 * rather than linked: linking maps libkmod and libcrypto (over 1.4 MiB resident, never
 * called by flavourd) into the daemon for its whole life, though most hosts never need it
 * to load a module after boot. Each field is named and typed as libkmod's function. */
#define FLAVOUR_KMOD_SYMBOLS(X)                                                           \
    X(kmod_new) X(kmod_unref) X(kmod_set_log_priority) X(kmod_set_log_fn)                 \
    X(kmod_get_userdata) X(kmod_set_userdata) X(kmod_get_dirname) X(kmod_load_resources) \
    X(kmod_module_new_from_lookup) X(kmod_module_new_from_name)                           \
    X(kmod_module_apply_filter) X(kmod_module_unref_list) X(kmod_module_get_module)       \
    X(kmod_module_get_name) X(kmod_module_unref) X(kmod_list_next)                        \
    X(kmod_module_probe_insert_module) X(kmod_module_get_initstate)

struct flavour_kmod {
#define FLAVOUR_KMOD_FIELD(name) __typeof__(name) *name;
    FLAVOUR_KMOD_SYMBOLS(FLAVOUR_KMOD_FIELD)
#undef FLAVOUR_KMOD_FIELD
};

/* Opens `library` (libkmod.so.2) and resolves every entry point. Returns the table (kept
 * for the life of the process), or NULL with dlerror(3)'s words (or the missing symbol)
 * in `error` (at most `size` bytes). */
const struct flavour_kmod *_Nullable flavour_kmod_open(const char *library, char *error, size_t size);

#pragma clang assume_nonnull end

#endif
