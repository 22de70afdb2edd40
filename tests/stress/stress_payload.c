/*
 * stress_payload.c — what ringhost-stress sends and how it checks what comes
 * back.  See stress_payload.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stress_payload.h"

uint64_t stress_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* Byte k of the data after the checksum, a function of seq alone. */
static uint8_t data_byte(uint64_t seq, uint32_t k)
{
    return (uint8_t)(stress_mix64(seq * 257u + k) >> 24);
}

/* FNV-1a over seq, data_len and the data past the checksum. */
static uint64_t checksum_of(const stress_msg *m)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    const uint8_t *p = (const uint8_t *)&m->seq;
    for (size_t i = 0; i < sizeof m->seq; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    h = (h ^ m->data_len) * UINT64_C(0x100000001b3);
    for (uint32_t i = CHECKSUM_BYTES; i < m->data_len; i++)
        h = (h ^ m->data[i]) * UINT64_C(0x100000001b3);
    return h;
}

uint32_t stress_payload_len(uint32_t data_len)
{
    return (uint32_t)offsetof(stress_msg, data) + data_len;
}

/* Fill m for message index of producer p, with data_len bytes of data
 * (>= CHECKSUM_BYTES). */
void stress_fill(stress_msg *m, uint32_t p, uint64_t index, uint32_t data_len)
{
    m->seq = (uint64_t)p << SEQ_SHIFT | index;
    memset(m->text, 0, sizeof m->text);
    snprintf(m->text, sizeof m->text, "p%u", p);
    m->data_len = data_len;
    for (uint32_t k = CHECKSUM_BYTES; k < data_len; k++)
        m->data[k] = data_byte(m->seq, k);
    uint64_t sum = checksum_of(m);
    memcpy(m->data, &sum, sizeof sum);
}

/* 0 when m is what its producer sent, else why not in why. */
int stress_check(const stress_msg *m, uint32_t payload_len, uint32_t producers,
                 const uint64_t *first, uint64_t *slot, char *why, size_t why_len)
{
    uint64_t p = m->seq >> SEQ_SHIFT, index = m->seq & ((UINT64_C(1) << SEQ_SHIFT) - 1);
    if (p >= producers || first[p] + index >= first[p + 1]) {
        snprintf(why, why_len, "seq %#llx names no message sent", (unsigned long long)m->seq);
        return -1;
    }
    if (m->data_len < CHECKSUM_BYTES || m->data_len > sizeof m->data ||
        payload_len != stress_payload_len(m->data_len)) {
        snprintf(why, why_len, "seq %#llx: payload_len %u, data_len %u", (unsigned long long)m->seq,
                 payload_len, m->data_len);
        return -1;
    }
    uint64_t sum;
    memcpy(&sum, m->data, sizeof sum);
    if (sum != checksum_of(m)) {
        snprintf(why, why_len, "seq %#llx: checksum differs", (unsigned long long)m->seq);
        return -1;
    }
    char text[sizeof m->text];
    snprintf(text, sizeof text, "p%llu", (unsigned long long)p);
    if (strcmp(text, m->text) != 0) {
        snprintf(why, why_len, "seq %#llx: text \"%.64s\", expected \"%s\"",
                 (unsigned long long)m->seq, m->text, text);
        return -1;
    }
    for (uint32_t k = CHECKSUM_BYTES; k < m->data_len; k++) {
        if (m->data[k] != data_byte(m->seq, k)) {
            snprintf(why, why_len, "seq %#llx: data[%u] differs", (unsigned long long)m->seq, k);
            return -1;
        }
    }
    *slot = first[p] + index;
    return 0;
}
