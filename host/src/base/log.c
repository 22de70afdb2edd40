/*
 * log.c — the operator's log (log.h): level from RINGHOST_LOG, one
 * key=value line per event, written whole.
 */
#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RH_LOG_LINE_MAX 2048

/* The threshold; RH_LOG_UNSET until the first rh__log_level().  Relaxed
 * atomics suffice: it is one int, read by every thread, written once (or
 * by a test before its threads start). */
#define RH_LOG_UNSET (-2)
static _Atomic int g_level = RH_LOG_UNSET;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = {"error", "warn", "info", "debug"};

int rh__log_level_parse(const char *text, int *level)
{
    if (!text)
        return -1;
    static const struct { const char *name; int level; } table[] = {
        {"off", RH_LOG_OFF},   {"none", RH_LOG_OFF},   {"error", RH_LOG_ERROR},
        {"warn", RH_LOG_WARN}, {"warning", RH_LOG_WARN}, {"info", RH_LOG_INFO},
        {"debug", RH_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(text, table[i].name) == 0) {
            *level = table[i].level;
            return 0;
        }
    return -1;
}

const char *rh__log_level_name(int level)
{
    if (level == RH_LOG_OFF)
        return "off";
    return names[level < RH_LOG_ERROR ? RH_LOG_ERROR : level > RH_LOG_DEBUG ? RH_LOG_DEBUG : level];
}

static void read_env(void)
{
    const char *text = getenv("RINGHOST_LOG");
    int level = RH_LOG_INFO;
    int bad = text && text[0] && rh__log_level_parse(text, &level) != 0;
    int expected = RH_LOG_UNSET;
    /* a test's rh__log_set_level() before the first event wins */
    atomic_compare_exchange_strong(&g_level, &expected, level);
    if (bad)
        rh__log_event(stderr, RH_LOG_WARN, "log.level_unknown",
                      "RINGHOST_LOG=%s using=info expected=off|error|warn|info|debug", text);
}

int rh__log_level(void)
{
    int level = atomic_load_explicit(&g_level, memory_order_relaxed);
    if (level != RH_LOG_UNSET)
        return level;
    pthread_once(&g_once, read_env);
    return atomic_load_explicit(&g_level, memory_order_relaxed);
}

void rh__log_set_level(int level)
{
    atomic_store_explicit(&g_level, level, memory_order_relaxed);
}

int rh__log_enabled(int level)
{
    int threshold = rh__log_level();
    return threshold != RH_LOG_OFF && level <= threshold;
}

/* ------------------------------------------------------------ format -- */

static size_t put(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
    if (len + 1 >= cap)
        return len;
    if (n > cap - 1 - len)
        n = cap - 1 - len;
    memcpy(buf + len, s, n);
    buf[len + n] = '\0';
    return len + n;
}

static int needs_quotes(const char *v)
{
    if (!v[0])
        return 1;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return 1;
    return 0;
}

size_t rh__log_quote(char *buf, size_t len, size_t cap, const char *value)
{
    if (!value)
        return put(buf, len, cap, "-", 1);
    if (!needs_quotes(value))
        return put(buf, len, cap, value, strlen(value));
    len = put(buf, len, cap, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        char esc[8];
        int n;
        switch (*p) {
        case '"': n = snprintf(esc, sizeof esc, "\\\""); break;
        case '\\': n = snprintf(esc, sizeof esc, "\\\\"); break;
        case '\n': n = snprintf(esc, sizeof esc, "\\n"); break;
        case '\t': n = snprintf(esc, sizeof esc, "\\t"); break;
        case '\r': n = snprintf(esc, sizeof esc, "\\r"); break;
        default:
            if (*p < ' ' || *p == 0x7f)
                n = snprintf(esc, sizeof esc, "\\x%02x", *p);
            else {
                esc[0] = (char)*p;
                n = 1;
            }
        }
        len = put(buf, len, cap, esc, (size_t)n);
    }
    return put(buf, len, cap, "\"", 1);
}

/*
 * Format one conversion spec[0..n) (from '%' to its conversion letter) with
 * its argument from ap.  %s goes through rh__log_quote; everything else is
 * handed to snprintf with the argument read at its promoted type.
 */
static size_t format_one(char *buf, size_t len, size_t cap, const char *spec, size_t n,
                         va_list *ap)
{
    char conv = spec[n - 1];
    char fmt[32];
    char out[128];
    if (n >= sizeof fmt)
        return put(buf, len, cap, "?", 1);
    memcpy(fmt, spec, n);
    fmt[n] = '\0';
    /* the length modifier: letters between the flags/width and conv */
    const char *mod = spec + 1;
    while (mod < spec + n - 1 && strchr("-+ #0123456789.*", *mod))
        mod++;
    size_t mlen = (size_t)(spec + n - 1 - mod);
    int m_l = mlen == 1 && mod[0] == 'l', m_ll = mlen == 2 && mod[0] == 'l',
        m_z = mlen == 1 && (mod[0] == 'z' || mod[0] == 't'), m_j = mlen == 1 && mod[0] == 'j';
    int w;
    switch (conv) {
    case 's':
        return rh__log_quote(buf, len, cap, va_arg(*ap, const char *));
    case 'd': case 'i': case 'c':
        if (m_ll)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, long long));
        else if (m_l)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, long));
        else if (m_z)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, ptrdiff_t));
        else if (m_j)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, intmax_t));
        else
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, int));
        break;
    case 'u': case 'x': case 'X': case 'o':
        if (m_ll)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, unsigned long long));
        else if (m_l)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, unsigned long));
        else if (m_z)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, size_t));
        else if (m_j)
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, uintmax_t));
        else
            w = snprintf(out, sizeof out, fmt, va_arg(*ap, unsigned));
        break;
    case 'f': case 'g': case 'e': case 'F': case 'G': case 'E':
        w = snprintf(out, sizeof out, fmt, va_arg(*ap, double));
        break;
    case 'p':
        w = snprintf(out, sizeof out, fmt, va_arg(*ap, void *));
        break;
    default:
        return put(buf, len, cap, "?", 1);
    }
    if (w < 0)
        return len;
    return put(buf, len, cap, out, (size_t)w < sizeof out ? (size_t)w : sizeof out - 1);
}

/* The format's fields appended to buf; the format was checked by the
 * compiler (rh__log_event's format attribute), so each spec is well formed. */
static size_t format_fields(char *buf, size_t len, size_t cap, const char *fmt, va_list *ap)
{
    const char *p = fmt;
    while (*p) {
        const char *pct = strchr(p, '%');
        if (!pct)
            return put(buf, len, cap, p, strlen(p));
        len = put(buf, len, cap, p, (size_t)(pct - p));
        if (pct[1] == '%') {
            len = put(buf, len, cap, "%", 1);
            p = pct + 2;
            continue;
        }
        const char *end = pct + 1;
        while (*end && !strchr("diucxXosfgeFGEp", *end))
            end++;
        if (!*end)
            return put(buf, len, cap, pct, strlen(pct));
        len = format_one(buf, len, cap, pct, (size_t)(end - pct + 1), ap);
        p = end + 1;
    }
    return len;
}

/* ------------------------------------------------------ rate limit -- */

/*
 * Repeated lines.  An event that names a queue or a kernel (queue=,
 * kernel=) is one a message can cause, so a stream of bad messages causes
 * it once each (200 000 invalid messages wrote 38 MB of
 * bridge.message_invalid to stderr).  Such lines are "repeated" when their
 * event name, queue and kernel are the same: at most RATE_BURST of them are
 * written per RATE_WINDOW_NS; the rest are counted, and one line
 *
 *   level=<theirs> event=log.suppressed of=<event> queue=<q> kernel=<k> suppressed=<K> window_ms=<ms>
 *
 * says how many were left out: when the next line of that key comes after
 * its window, when its slot is needed for another key, or at exit.  Events
 * with neither field (a thread starting, a launch) are never limited: they
 * do not come per message.  Keys live in a small table (RATE_SLOTS, the
 * oldest replaced), under the write lock.  Only warnings and errors are
 * limited: what a message causes is a refusal (warn) or a fault (error);
 * info and debug lines name a kernel for what an operator did (a swap, a
 * launch), which a test or a script may count, and each is wanted.
 */
#define RATE_BURST 10
#define RATE_WINDOW_NS (1000ull * 1000 * 1000)
#define RATE_SLOTS 64
#define RATE_KEY_MAX 200

struct rate_slot {
    char key[RATE_KEY_MAX];   /* event \x1f queue \x1f kernel */
    uint64_t window_start;    /* CLOCK_MONOTONIC ns */
    uint64_t last_use;
    uint32_t written;         /* in this window */
    uint64_t suppressed;      /* since the last summary */
    int level;
    FILE *out;
};
static struct rate_slot g_rate[RATE_SLOTS];
static int g_rate_atexit;

/* The value of field `name` in the formatted fields (after "event=..."),
 * up to the next space (a quoted value: up to its closing quote). */
static size_t field_value(const char *fields, const char *name, const char **v)
{
    size_t nl = strlen(name);
    for (const char *p = fields; (p = strstr(p, name)) != NULL; p += nl)
        if ((p == fields || p[-1] == ' ') && p[nl] == '=') {
            const char *b = p + nl + 1, *e = b;
            if (*b == '"') {
                for (e = b + 1; *e && *e != '"'; e += e[0] == '\\' && e[1] ? 2 : 1)
                    ;
                e += *e == '"';
            } else
                e = b + strcspn(b, " \n");
            *v = b;
            return (size_t)(e - b);
        }
    *v = "";
    return 0;
}

/*
 * A standard stream whose reader went away (EPIPE: `| head` done, a tee
 * killed by Ctrl-C; EBADF: closed under us) is gone for good: the host
 * keeps serving and stops writing to it, rather than paying a failed write
 * per line (or dying of SIGPIPE: the CLI catches it, cli/main.c).  Only
 * stdout and stderr are remembered: another FILE's address may be reused
 * by a new stream once closed.  Read and written under g_write_lock.
 */
static int g_stdout_gone, g_stderr_gone;

static int *gone_flag(FILE *out)
{
    return out == stderr ? &g_stderr_gone : out == stdout ? &g_stdout_gone : NULL;
}

static void write_line(FILE *out, const char *line, size_t len)
{
    int *gone = gone_flag(out);
    if (gone && *gone)
        return;
    flockfile(out);
    errno = 0;
    size_t w = fwrite(line, 1, len, out);
    int rc = fflush(out);
    int e = errno;
    if ((w < len || rc != 0) && (e == EPIPE || e == EBADF) && gone)
        *gone = 1;
    funlockfile(out);
}

/* The summary of slot r, if it suppressed anything, to `to`: the stream of
 * the line being written (a stream a slot saw earlier may be closed by
 * now: tests log into memory streams); the lock is held. */
static void rate_summary(struct rate_slot *r, FILE *to)
{
    if (!r->suppressed)
        return;
    char line[RH_LOG_LINE_MAX], ev[RATE_KEY_MAX], *q, *k;
    snprintf(ev, sizeof ev, "%s", r->key);
    q = strchr(ev, '\x1f');
    *q++ = '\0';
    k = strchr(q, '\x1f');
    *k++ = '\0';
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=log.suppressed "
                     "of=%s queue=%s kernel=%s suppressed=%llu window_ms=%llu\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, now.tv_nsec / (long)RH_NS_PER_MS, rh__log_level_name(r->level),
                     ev, q[0] ? q : "-", k[0] ? k : "-", (unsigned long long)r->suppressed,
                     (unsigned long long)(RATE_WINDOW_NS / RH_NS_PER_MS));
    if (n > 0)
        write_line(to, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    r->suppressed = 0;
}

/* Only to the standard streams: a test's memory stream may be closed by
 * now (its slot's summary then waits for its next line, or is dropped). */
void rh__log_flush_suppressed(void)
{
    pthread_mutex_lock(&g_write_lock);
    for (int i = 0; i < RATE_SLOTS; i++)
        if (g_rate[i].out == stderr || g_rate[i].out == stdout)
            rate_summary(&g_rate[i], g_rate[i].out);
    pthread_mutex_unlock(&g_write_lock);
}

/* Whether this line may be written (1) or is a repeat past the burst (0,
 * counted); the lock is held.  fields: the line from after "event=". */
static int rate_admit(FILE *out, int level, const char *event, const char *fields)
{
    const char *q, *k;
    size_t ql = field_value(fields, "queue", &q), kl = field_value(fields, "kernel", &k);
    if ((!ql && !kl) || level > RH_LOG_WARN)
        return 1;
    char key[RATE_KEY_MAX];
    snprintf(key, sizeof key, "%s\x1f%.*s\x1f%.*s", event, (int)(ql < 64 ? ql : 64), q,
             (int)(kl < 64 ? kl : 64), k);
    uint64_t now = rh_now_ns();
    struct rate_slot *r = NULL, *oldest = &g_rate[0];
    for (int i = 0; i < RATE_SLOTS && !r; i++) {
        if (g_rate[i].key[0] && strcmp(g_rate[i].key, key) == 0)
            r = &g_rate[i];
        else if (g_rate[i].last_use < oldest->last_use)
            oldest = &g_rate[i];
    }
    if (!r) {
        r = oldest;
        rate_summary(r, out);
        memset(r, 0, sizeof *r);
        snprintf(r->key, sizeof r->key, "%s", key);
        r->window_start = now;
    }
    r->last_use = now;
    r->level = level;
    r->out = out;
    if (now - r->window_start >= RATE_WINDOW_NS) {
        rate_summary(r, out);
        r->window_start = now;
        r->written = 0;
    }
    if (r->written < RATE_BURST) {
        r->written++;
        return 1;
    }
    if (!r->suppressed++ && !g_rate_atexit) {
        g_rate_atexit = 1;
        atexit(rh__log_flush_suppressed);
    }
    return 0;
}

void rh__log_eventv(FILE *out, int level, const char *event, const char *fmt_kv, va_list ap)
{
    if (!rh__log_enabled(level))
        return;
    if (!out)
        out = stderr;
    char line[RH_LOG_LINE_MAX];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / (long)RH_NS_PER_MS, rh__log_level_name(level));
    size_t len = n > 0 ? (size_t)n : 0;
    len = rh__log_quote(line, len, sizeof line, event ? event : "-");
    if (fmt_kv && fmt_kv[0]) {
        len = put(line, len, sizeof line, " ", 1);
        va_list copy;
        va_copy(copy, ap);
        len = format_fields(line, len, sizeof line, fmt_kv, &copy);
        va_end(copy);
    }
    if (len + 1 >= sizeof line)
        len = sizeof line - 5, memcpy(line + len, "...", 3), len += 3;
    line[len++] = '\n';
    line[len] = '\0'; /* strstr below reads the line as a string (len < sizeof line here) */
    /* The stream's own lock keeps the line whole against other writers of
     * out; ours orders our writers for tools that cannot see glibc's
     * internal lock (ThreadSanitizer: a memory stream grows with malloc). */
    pthread_mutex_lock(&g_write_lock);
    const char *fields = strstr(line, " event=");
    if (rate_admit(out, level, event ? event : "-", fields ? fields : line))
        write_line(out, line, len);
    pthread_mutex_unlock(&g_write_lock);
}

/* A fork() while another thread writes a line would leave the child's copy
 * of g_write_lock held for good (exec/exec_process.c forks kernel processes from a
 * threaded host): hold it across every fork. */
static void fork_lock(void)
{
    pthread_mutex_lock(&g_write_lock);
}

static void fork_unlock(void)
{
    pthread_mutex_unlock(&g_write_lock);
}

static void register_fork_handlers(void)
{
    pthread_atfork(fork_lock, fork_unlock, fork_unlock);
}

void rh__log_fork_safe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_handlers);
}

void rh__log_event(FILE *out, int level, const char *event, const char *fmt_kv, ...)
{
    va_list ap;
    va_start(ap, fmt_kv);
    rh__log_eventv(out, level, event, fmt_kv, ap);
    va_end(ap);
}
