/*
 * log.h — the operator's log: one line per event, key=value fields.
 *
 *   ts=2026-11-24T03:10:42.118Z level=info event=reactor.start thread=rh-cpu1 ...
 *
 * The level is read once from the environment variable RINGHOST_LOG:
 * "off", "error", "warn", "info" (the default) or "debug".  An event is
 * written when its level is at or above that threshold (error is the
 * highest).  The levels are the kernel API's RH_LOG_* (ringhost/kernel.h),
 * so a kernel's rh_log() line is filtered the same way.
 *
 * Reports are not events: the binding, summary and accounting lines
 * (metrics.c) are written whatever the level, in their own format.
 */
#ifndef RH_LOG_H
#define RH_LOG_H

#include <stdarg.h>
#include <stdio.h>

#include "ringhost/kernel.h"

/* The threshold that writes nothing at all. */
#define RH_LOG_OFF (-1)

/*
 * Parse a level name ("off", "error", "warn" or "warning", "info",
 * "debug"; case-insensitive) into *level.  Returns 0, or -1 (and leaves
 * *level alone) when text is NULL or names no level.
 */
int rh__log_level_parse(const char *text, int *level);

/* The name of a level ("error" .. "debug", "off"); out-of-range levels are
 * clamped to error or debug. */
const char *rh__log_level_name(int level);

/*
 * The threshold now in force.  The first call reads RINGHOST_LOG (once per
 * process; a value that names no level means info, and is reported by one
 * warn event on stderr).
 */
int rh__log_level(void);

/* Replace the threshold (tests; a later RINGHOST_LOG change is not read). */
void rh__log_set_level(int level);

/* Whether an event at `level` would be written: callers that must compute
 * fields (formatting an id, summing counters) ask first. */
int rh__log_enabled(int level);

/*
 * Write one event line to out (NULL: stderr) when `level` is enabled:
 *
 *   ts=<UTC ISO-8601, ms> level=<name> event=<event> <fields>\n
 *
 * fmt_kv is a printf format of space-separated key=value fields, for
 * example "thread=%s cpus=%s loops=%llu".  Each %s value is quoted when it
 * is empty or holds a space, '"', '=', '\\' or a control character:
 * "a b" -> "\"a b\"", with '"' and '\\' escaped by a backslash and newline,
 * tab and other control characters written as \n, \t, \xHH.  A NULL %s is
 * written as -.  Numbers are written as printf writes them.  The supported
 * conversions are d i u x X o c s p f g e with the length modifiers hh h l
 * ll z j t (no * width or precision); %% is a literal percent.  fmt_kv
 * may be NULL or "" (no fields).
 *
 * The line is built in memory (at most 2048 bytes; longer lines end with
 * "...") and written with one fwrite under a process-wide lock and the
 * stream's lock, so lines of concurrent threads never interleave.
 */
/* Make the log usable in a child fork()ed from a threaded process: the
 * write lock is held across fork (pthread_atfork, registered once).  The
 * child must still write to a stream of its own (another thread may have
 * held the parent stream's lock at the fork). */
void rh__log_fork_safe(void);

/*
 * Repeated lines are rate-limited: an event whose fields name a queue or a
 * kernel (queue=, kernel=), the kind a message causes, is written at most
 * 10 times a second per (event, queue, kernel); the others are counted and
 * one line "event=log.suppressed of=<event> queue=<q> kernel=<k>
 * suppressed=<K> window_ms=1000" reports them, when that key's next line
 * comes after its second, when its slot (64 keys) is reused, or at exit.
 * Events naming neither are never limited.
 */
void rh__log_event(FILE *out, int level, const char *event, const char *fmt_kv, ...)
    __attribute__((format(printf, 4, 5)));
/* Write the log.suppressed line of every key that has suppressed lines
 * (at exit on its own; a runtime's terminate calls it before its
 * accounting). */
void rh__log_flush_suppressed(void);
void rh__log_eventv(FILE *out, int level, const char *event, const char *fmt_kv, va_list ap);

/* Append value to buf (capacity cap, NUL kept) quoted as rh__log_event
 * quotes a %s value.  Returns the new length (at most cap - 1). */
size_t rh__log_quote(char *buf, size_t len, size_t cap, const char *value);

#endif
