#include "CFlavourShim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const struct flavour_kmod *flavour_kmod_open(const char *library, char *error, size_t size) {
    /* RTLD_LOCAL: libkmod's symbols (and those of libcrypto, libzstd, liblzma under it)
     * stay out of the global namespace. Never closed, and the table never freed: the
     * contexts made from it may live as long as the process. */
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(error, size, "%s", dlerror());
        return NULL;
    }
    struct flavour_kmod *kmod = calloc(1, sizeof(*kmod));
    if (kmod == NULL) {
        snprintf(error, size, "out of memory");
        dlclose(handle);
        return NULL;
    }
#define FLAVOUR_KMOD_RESOLVE(name)                                                        \
    *(void **)&kmod->name = dlsym(handle, #name);                                         \
    if (kmod->name == NULL) {                                                             \
        snprintf(error, size, "%s has no symbol %s", library, #name);                     \
        free(kmod);                                                                       \
        dlclose(handle);                                                                  \
        return NULL;                                                                      \
    }
    FLAVOUR_KMOD_SYMBOLS(FLAVOUR_KMOD_RESOLVE)
#undef FLAVOUR_KMOD_RESOLVE
    return kmod;
}
