#ifndef CFLAVOURSHIM_H
#define CFLAVOURSHIM_H
/* Fixed-arity wrappers for C interfaces Swift cannot call directly. */

#include <libkmod.h>
#include <sys/eventfd.h> /* eventfd is not in Swift's Glibc module */
#include <sys/signalfd.h> /* nor is signalfd (flavourd's SignalListener) */

/* A kmod log line, already formatted. `message` has no trailing newline and is
 * only valid for the duration of the call. */
typedef void (*flavour_kmod_log_fn)(void *context, int priority, const char *file,
                                    int line, const char *function, const char *message);

/* Routes libkmod's log (a printf-style va_list callback Swift cannot implement)
 * through `callback`, formatted with vsnprintf. `context` is handed back as is.
 * Passing NULL as the callback silences libkmod. */
void flavour_kmod_set_log(struct kmod_ctx *ctx, flavour_kmod_log_fn callback, void *context);

#endif
