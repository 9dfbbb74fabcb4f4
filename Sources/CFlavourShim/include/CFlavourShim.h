#ifndef CFLAVOURSHIM_H
#define CFLAVOURSHIM_H
/* Fixed-arity wrappers for C interfaces Swift cannot call directly. */

#include "FlavourKmod.h"
#include <sys/eventfd.h> /* eventfd is not in Swift's Glibc module */
#include <sys/signalfd.h> /* nor is signalfd (flavourd's SignalListener) */
#include <malloc.h>       /* nor malloc_trim (Heap) */
#include <linux/filter.h> /* nor struct sock_filter (SocketFilter) */

/* A kmod log line, already formatted. `message` has no trailing newline and is
 * only valid for the duration of the call. */
typedef void (*flavour_kmod_log_fn)(void *context, int priority, const char *file,
                                    int line, const char *function, const char *message);

/* Routes libkmod's log (a printf-style va_list callback Swift cannot implement)
 * through `callback`, formatted with vsnprintf. `context` is handed back as is.
 * Passing NULL as the callback silences libkmod. */
void flavour_kmod_set_log(const struct flavour_kmod *kmod, struct kmod_ctx *ctx,
                          flavour_kmod_log_fn callback, void *context);

/* openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: opens `path`, relative to the
 * directory `dirfd`, only if resolving it (symlinks and ".." included) never leaves that
 * directory. glibc has no wrapper and syscall(2) is variadic. Returns the descriptor, or
 * -1 with errno (EXDEV for a path that would escape; ENOSYS before Linux 5.6). */
int flavour_open_beneath(int dirfd, const char *path, int flags);

/* pidfd_open(2) and pidfd_send_signal(2) (Linux 5.3, 5.1): a descriptor for a process that
 * keeps naming it after its pid is reused, and a signal through it. glibc 2.36 has no
 * wrapper for the second, and syscall(2) is variadic. -1 with errno on failure (ESRCH: the
 * process has exited). */
int flavour_pidfd_open(int pid);
int flavour_pidfd_send_signal(int pidfd, int signal);

/* The driver of network interface `name` in the caller's network namespace, as ethtool's
 * ETHTOOL_GDRVINFO reports it, into `driver` (at most `size` bytes, NUL-terminated). Asked on
 * an AF_UNIX socket: the socket layer passes interface ioctls to dev_ioctl
 * (net/socket.c, sock_do_ioctl), and reading driver info needs no capability. ioctl(2) is
 * variadic. Returns 0, or -1 with errno. */
int flavour_ethtool_driver(const char *name, char *driver, size_t size);

#endif
