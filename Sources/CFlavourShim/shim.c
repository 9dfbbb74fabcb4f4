#include "CFlavourShim.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/openat2.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct flavour_kmod_log_target {
    flavour_kmod_log_fn callback;
    void *context;
};

static void flavour_kmod_log_trampoline(void *data, int priority, const char *file, int line,
                                        const char *function, const char *format, va_list args) {
    const struct flavour_kmod_log_target *target = data;
    char buffer[1024];
    va_list copy;

    va_copy(copy, args);
    int length = vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (length < 0)
        return;

    char *message = buffer;
    char *allocated = NULL;
    if ((size_t)length >= sizeof(buffer)) {
        allocated = malloc((size_t)length + 1);
        if (allocated != NULL) {
            vsnprintf(allocated, (size_t)length + 1, format, args);
            message = allocated;
        } /* else: keep the truncated line rather than nothing */
    }
    /* libkmod's messages end in "\n"; a log record should not. */
    size_t used = strlen(message);
    while (used > 0 && message[used - 1] == '\n')
        message[--used] = '\0';

    target->callback(target->context, priority, file, line, function, message);
    free(allocated);
}

static void flavour_kmod_log_discard(void *data, int priority, const char *file, int line,
                                     const char *function, const char *format, va_list args) {
    (void)data; (void)priority; (void)file; (void)line; (void)function; (void)format; (void)args;
}

/* One target per context, owned by the context: kmod_set_log_fn has no destructor
 * for its data, so the previous target is kept in the context's userdata slot. */
void flavour_kmod_set_log(const struct flavour_kmod *kmod, struct kmod_ctx *ctx,
                          flavour_kmod_log_fn callback, void *context) {
    struct flavour_kmod_log_target *previous = kmod->kmod_get_userdata(ctx);
    if (callback == NULL) {
        /* Not NULL: kmod_unref itself logs, and older libkmod calls log_fn unchecked. */
        kmod->kmod_set_log_fn(ctx, flavour_kmod_log_discard, NULL);
        kmod->kmod_set_userdata(ctx, NULL);
        free(previous);
        return;
    }
    struct flavour_kmod_log_target *target = malloc(sizeof(*target));
    if (target == NULL)
        return;
    target->callback = callback;
    target->context = context;
    kmod->kmod_set_log_fn(ctx, flavour_kmod_log_trampoline, target);
    kmod->kmod_set_userdata(ctx, target);
    free(previous);
}

int flavour_open_beneath(int dirfd, const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int flavour_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int flavour_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

int flavour_ethtool_driver(const char *name, char *driver, size_t size) {
    struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
    struct ifreq request;
    int fd, result, saved;

    if (strlen(name) >= IFNAMSIZ || size == 0) {
        errno = EINVAL;
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    request.ifr_data = (char *)&info;
    do {
        result = ioctl(fd, SIOCETHTOOL, &request);
    } while (result < 0 && errno == EINTR);
    saved = errno;
    close(fd);
    if (result < 0) {
        errno = saved;
        return -1;
    }
    snprintf(driver, size, "%.*s", (int)sizeof(info.driver), info.driver);
    return 0;
}
