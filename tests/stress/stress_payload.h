/*
 * stress_payload.h — the messages of ringhost-stress: an echo.message whose
 * seq names its producer and index, whose text names its producer, and
 * whose data is a checksum followed by bytes derived from seq, so that a
 * consumer can tell, from an output alone, which message it is and whether
 * any byte changed.
 */
#ifndef RH_STRESS_PAYLOAD_H
#define RH_STRESS_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* echo.message as kernels/common/echo_message.json lays it out (the
 * generated echo_message.h asserts the same offsets and size). */
typedef struct stress_msg {
    uint64_t seq;
    char text[65];
    uint32_t data_len;
    uint8_t data[256];
} stress_msg;
_Static_assert(sizeof(stress_msg) == 336, "echo.message: size");
_Static_assert(offsetof(stress_msg, data_len) == 76, "echo.message: offset of data_len");
_Static_assert(offsetof(stress_msg, data) == 80, "echo.message: offset of data");

#define SEQ_SHIFT 40 /* seq = producer << 40 | index: 2^40 messages per producer */
#define CHECKSUM_BYTES 8
/* A 64-bit mix (splitmix64's finaliser): spreads lengths and bytes. */
uint64_t stress_mix64(uint64_t x);

/* Bytes on the wire for data_len bytes of data. */
uint32_t stress_payload_len(uint32_t data_len);

/* Fill m as message `index` of producer p, with data_len bytes of data
 * (CHECKSUM_BYTES .. 256). */
void stress_fill(stress_msg *m, uint32_t p, uint64_t index, uint32_t data_len);

/* 0 when m, received with payload_len bytes, is exactly what its producer
 * sent, and *slot its number among all messages (producer p owns
 * first[p] .. first[p+1]-1 of `producers`); otherwise -1 and why. */
int stress_check(const stress_msg *m, uint32_t payload_len, uint32_t producers,
                 const uint64_t *first, uint64_t *slot, char *why, size_t why_len);

#endif /* RH_STRESS_PAYLOAD_H */
