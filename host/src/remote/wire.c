/*
 * wire.c — the wire format of wire.h.  Written byte by byte, so the
 * format is the same on any host whatever its endianness or padding.
 */
#include <string.h>

#include "remote/wire.h"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void rh__wire_encode(uint8_t *out, const rh_envelope *env, uint64_t fingerprint,
                     const void *payload, uint32_t len)
{
    memset(out, 0, RH_WIRE_HEADER);
    out[0] = 'R';
    out[1] = 'H';
    out[2] = RH_WIRE_VERSION;
    out[3] = (uint8_t)(env->flags & ~RH_ENV_REDELIVERED);
    out[4] = env->priority;
    put64(out + 8, fingerprint);
    put64(out + 16, env->id.hi);
    put64(out + 24, env->id.lo);
    put64(out + 32, env->correlation_id.hi);
    put64(out + 40, env->correlation_id.lo);
    put32(out + 48, len);
    if (len)
        memcpy(out + RH_WIRE_HEADER, payload, len);
}

int rh__wire_decode(const uint8_t *data, size_t n, rh_envelope *env, uint64_t *fingerprint,
                    const uint8_t **payload, const char **why)
{
    if (n < RH_WIRE_HEADER || data[0] != 'R' || data[1] != 'H') {
        *why = "not a ringhost message (no \"RH\" wire header)";
        return -1;
    }
    if (data[2] != RH_WIRE_VERSION) {
        *why = "a wire format version this host does not read";
        return -1;
    }
    uint32_t len = get32(data + 48);
    if ((size_t)len != n - RH_WIRE_HEADER) {
        *why = "its payload length disagrees with the message's size";
        return -1;
    }
    memset(env, 0, sizeof *env);
    env->flags = data[3];
    env->priority = data[4];
    *fingerprint = get64(data + 8);
    env->id.hi = get64(data + 16);
    env->id.lo = get64(data + 24);
    env->correlation_id.hi = get64(data + 32);
    env->correlation_id.lo = get64(data + 40);
    env->payload_len = len;
    *payload = data + RH_WIRE_HEADER;
    return 0;
}

void rh__wire_msg_id(rh_id id, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(id.hi >> (60 - 4 * i)) & 15];
        out[16 + i] = hex[(id.lo >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}
