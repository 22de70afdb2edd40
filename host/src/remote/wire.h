/*
 * wire.h — a message as it travels through JetStream: a small versioned
 * header, then the payload bytes.  All integers little-endian.
 *
 *   offset size  field
 *        0    2  magic "RH"
 *        2    1  wire version (RH_WIRE_VERSION)
 *        3    1  envelope flags (RH_ENV_*, as sent; RH_ENV_REDELIVERED cleared)
 *        4    1  priority
 *        5    3  zero
 *        8    8  type fingerprint (the receiving queue must have the same)
 *       16   16  id (hi, lo)               also the Nats-Msg-Id header, 32 hex
 *       32   16  correlation id (hi, lo)
 *       48    4  payload length
 *       52    4  zero
 *       56    …  payload
 *
 * A change to this layout must bump RH_WIRE_VERSION; a receiver refuses
 * (dead-letters, with the reason) a version it does not know.
 */
#ifndef RH_REMOTE_WIRE_H
#define RH_REMOTE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"

#define RH_WIRE_VERSION 1
#define RH_WIRE_HEADER 56u

/* Write the header and payload to out (RH_WIRE_HEADER + len bytes). */
void rh__wire_encode(uint8_t *out, const rh_envelope *env, uint64_t fingerprint,
                     const void *payload, uint32_t len);

/* Read a message of n bytes: 0 with *env, *fingerprint and *payload (into
 * data) filled, or -1 with *why saying what is wrong. */
int rh__wire_decode(const uint8_t *data, size_t n, rh_envelope *env, uint64_t *fingerprint,
                    const uint8_t **payload, const char **why);

/* The Nats-Msg-Id of an id: 32 lowercase hex digits and a NUL. */
void rh__wire_msg_id(rh_id id, char out[33]);

#endif /* RH_REMOTE_WIRE_H */
