/*
 * id.c — 128-bit message ids.
 *
 * Ids must be unique across threads and processes without coordination and
 * cheap enough to make one per message.  Each thread seeds a xoshiro256**
 * generator from getrandom() once, then draws 128 bits per id: no syscall
 * and no shared cache line per message.  The version/variant bits follow
 * RFC 4122 version 4 so the text form is a valid UUID.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "ringhost/ringhost.h"

static __thread uint64_t rng_s[4];
static __thread int rng_seeded;

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t *s = rng_s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(void)
{
    size_t got = 0;
    unsigned char *p = (unsigned char *)rng_s;
    while (got < sizeof rng_s) {
        ssize_t n = getrandom(p + got, sizeof rng_s - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof rng_s) { /* no entropy source: mix time and addresses */
        rng_s[0] ^= rh_now_ns();
        rng_s[1] ^= (uint64_t)(uintptr_t)&got;
        rng_s[2] ^= 0x9e3779b97f4a7c15ull;
        rng_s[3] ^= (uint64_t)(uintptr_t)p;
    }
    if ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0)
        rng_s[0] = 1;
    rng_seeded = 1;
}

rh_id rh_id_new(void)
{
    if (!rng_seeded)
        rng_seed();
    rh_id id = {rng_next(), rng_next()};
    id.hi = (id.hi & ~0xf000ull) | 0x4000ull;                        /* version 4 */
    id.lo = (id.lo & ~(0xc000000000000000ull)) | 0x8000000000000000ull; /* variant */
    return id;
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
