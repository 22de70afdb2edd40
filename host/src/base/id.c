/*
 * id.c — 128-bit message ids.
 *
 * Ids must be unique across threads and processes without coordination, and
 * cheap enough to make one per message (every rh_send and every output a
 * bridge stamps makes one).  Each thread draws a random 60-bit stream
 * number and a random starting count from getrandom() once; an id is then
 * (stream, count++): no syscall, no shared cache line, one increment per
 * message.  Two threads' ids can only meet if their random stream numbers
 * are equal (about n^2 / 2^61 for n threads).  An earlier version drew 122
 * fresh random bits per id (xoshiro256**): 4-6% of an echo pipeline's time
 * in perf, for no uniqueness the stream number does not already give.
 *
 * The text form is a valid UUID: version 8 ("custom", RFC 9562) in the
 * version nibble, variant bits 10.
 *
 * An answer's id is not drawn but derived from the id of the message it
 * answers, its output port and its index among that message's answers on
 * the port (rh__id_of_answer, id.h), so a message processed twice (a
 * persist queue's redelivery after a crash) is answered twice with the
 * same ids, and the repeat can be recognised.
 *
 * A forked child would inherit its parent thread's stream and count and
 * repeat the parent's next ids, so a fork handler makes the child draw anew.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/id.h"
#include "ringhost/answer_id.h"
#include "ringhost/ringhost.h"

/* initial-exec: libringhost is linked by its users (and dlopen'ed only
 * where glibc's static TLS surplus has room for these 20 bytes), and the
 * default model for a shared library called __tls_get_addr on each id:
 * about as many instructions as the rest of rh_send_burst per message
 * (callgrind, docs/PERFORMANCE.md "The per-message path"). */
#define ID_TLS __thread __attribute__((tls_model("initial-exec")))
static ID_TLS uint64_t id_stream; /* hi half: random, version bits set */
static ID_TLS uint64_t id_count;  /* low 62 bits of the next lo half */
static ID_TLS int id_seeded;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* Runs in the child after fork(), on the thread that forked (the only one
 * the child has): its next id draws a new stream. */
static void forget_stream_in_child(void)
{
    id_seeded = 0;
}

static void install_fork_handler(void)
{
    pthread_atfork(NULL, NULL, forget_stream_in_child);
}

static void seed_stream(void)
{
    pthread_once(&fork_once, install_fork_handler);
    uint64_t r[2] = {0, 0};
    size_t got = 0;
    unsigned char *p = (unsigned char *)r;
    while (got < sizeof r) {
        ssize_t n = getrandom(p + got, sizeof r - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof r) { /* no entropy source: mix time and addresses */
        r[0] ^= rh_now_ns() * 0x9e3779b97f4a7c15ull;
        r[1] ^= (uint64_t)(uintptr_t)&got ^ ((uint64_t)(uintptr_t)p << 17);
    }
    id_stream = (r[0] & ~0xf000ull) | 0x8000ull; /* version 8 */
    id_count = r[1];
    id_seeded = 1;
}

rh_id rh_id_new(void)
{
    if (!id_seeded)
        seed_stream();
    /* Variant bits 10 on top; the 62-bit count wraps only after 2^62 ids,
     * and lo == 0 cannot happen, so an id is never all-zero. */
    rh_id id = {id_stream, (id_count++ & ~0xc000000000000000ull) | 0x8000000000000000ull};
    return id;
}

void rh__id_block(uint32_t n, uint64_t *stream, uint64_t *first)
{
    if (!id_seeded)
        seed_stream();
    *stream = id_stream;
    *first = id_count;
    id_count += n;
}

/* One derivation for the host and a device kernel's loop: ringhost/answer_id.h. */
rh_id rh__id_of_answer(rh_id input_id, uint32_t port, uint32_t emit_index)
{
    return rh_answer_id(input_id, port, emit_index);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int rh_id_parse(const char *text, rh_id *out)
{
    if (!text)
        return RH_EINVAL;
    size_t len = strlen(text);
    int dashed = (len == 36);
    if (len != 32 && !dashed)
        return RH_EINVAL;
    uint64_t v[2] = {0, 0};
    int digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i] != '-')
                return RH_EINVAL;
            continue;
        }
        int h = hexval((unsigned char)text[i]);
        if (h < 0)
            return RH_EINVAL;
        v[digits / 16] = (v[digits / 16] << 4) | (uint64_t)h;
        digits++;
    }
    if (digits != 32)
        return RH_EINVAL;
    out->hi = v[0];
    out->lo = v[1];
    return 0;
}

void rh_id_format(rh_id id, char buf[37])
{
    snprintf(buf, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(id.hi >> 32),
             (unsigned)((id.hi >> 16) & 0xffff), (unsigned)(id.hi & 0xffff),
             (unsigned)(id.lo >> 48), (unsigned long long)(id.lo & 0xffffffffffffull));
}
