/*
 * fuzz_codec.c — libFuzzer target: the JSON codecs ringhost-gen writes.
 *
 * Built from codecs generated at build time (ringhost_generate, as a kernel
 * gets them) for vector_add.request, vector_add.response and echo.message.
 * The first input byte picks the type (byte % 3) and the mode (byte / 3 % 2);
 * the rest is
 *  - JSON mode: JSON text, handed to decode as the CLI hands a message body.
 *    decode must return; on failure the reason is said and the struct is
 *    zeroed; on success the struct validates, and the round trip
 *    encode -> JSON text -> parse -> decode gives the very same bytes.
 *  - raw mode: the struct bytes themselves, as a payload another process put
 *    in a shared queue.  validate and encode must return on any bytes
 *    (encode clamps lengths and spells bad UTF-8 as '?'); when validate
 *    accepts the bytes, encode -> decode must accept them too and encode
 *    again to the same JSON.
 * A broken promise aborts, which libFuzzer reports with the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "echo_message.h"
#include "vector_add_request.h"
#include "vector_add_response.h"

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_codec: broken promise: " __VA_ARGS__);       \
            fprintf(stderr, "\n");                                             \
            abort();                                                           \
        }                                                                      \
    } while (0)

static const rh_type *const types[] = {
    &vector_add_request_type,
    &vector_add_response_type,
    &echo_message_type,
};
#define N_TYPES (sizeof types / sizeof types[0])

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Encode msg, write it as JSON text and parse it back: what travels between
 * `ringhost send` and a host, or a host and `ringhost recv`. */
static json_t *encode_as_text(const rh_type *t, const void *msg)
{
    json_t *j = t->encode(msg);
    CHECK(j != NULL, "%s: encode returned NULL", t->name);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK(text != NULL, "%s: encode made JSON that cannot be written", t->name);
    json_error_t je;
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    CHECK(back != NULL, "%s: encode wrote JSON that does not parse: %s (%s)", t->name, je.text,
          text);
    CHECK(json_equal(j, back), "%s: the JSON text does not read back equal: %s", t->name, text);
    free(text);
    json_decref(j);
    return back;
}

static void fuzz_json(const rh_type *t, const uint8_t *data, size_t size, unsigned char *msg,
                      unsigned char *again)
{
    json_error_t je;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!in)
        return;
    char why[512];
    why[0] = '\0';
    memset(msg, 0xA5, t->size); /* decode must zero what it does not fill */
    if (t->decode(in, msg, why, sizeof why) != 0) {
        CHECK(why[0] != '\0', "%s: decode failed without a reason", t->name);
        CHECK(memchr(why, '\0', sizeof why), "%s: unterminated reason", t->name);
        CHECK(all_zero(msg, t->size), "%s: a failed decode must leave the struct zeroed",
              t->name);
        json_decref(in);
        return;
    }
    json_decref(in);
    why[0] = '\0';
    CHECK(t->validate(msg, why, sizeof why) == 0, "%s: decode made a message that does not "
          "validate: %s", t->name, why);

    json_t *j = encode_as_text(t, msg);
    memset(again, 0x5A, t->size);
    CHECK(t->decode(j, again, why, sizeof why) == 0, "%s: decode of encode failed: %s", t->name,
          why);
    CHECK(memcmp(msg, again, t->size) == 0, "%s: decode(encode(m)) differs from m", t->name);
    json_decref(j);
}

static void fuzz_raw(const rh_type *t, const uint8_t *data, size_t size, unsigned char *msg,
                     unsigned char *again)
{
    /* A payload shorter than the type arrives zero-extended (queue.c). */
    memset(msg, 0, t->size);
    memcpy(msg, data, size < t->size ? size : t->size);
    char why[512];
    why[0] = '\0';
    int valid = t->validate(msg, why, sizeof why) == 0;
    CHECK(valid || why[0] != '\0', "%s: validate refused without a reason", t->name);
    json_t *j = encode_as_text(t, msg); /* on any bytes, valid or not */
    if (valid) {
        CHECK(t->decode(j, again, why, sizeof why) == 0,
              "%s: a message that validates must decode from its own encoding: %s", t->name,
              why);
        CHECK(t->validate(again, why, sizeof why) == 0, "%s: re-decoded message invalid: %s",
              t->name, why);
        json_t *j2 = t->encode(again);
        CHECK(j2 && json_equal(j, j2), "%s: encode(decode(encode(m))) != encode(m)", t->name);
        json_decref(j2);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const rh_type *t = types[data[0] % N_TYPES];
    int raw = (data[0] / N_TYPES) % 2;
    /* Exactly-sized heap buffers, so ASan sees any access past the struct. */
    unsigned char *m = malloc(t->size), *a = malloc(t->size);
    if (!m || !a)
        abort();
    if (raw)
        fuzz_raw(t, data + 1, size - 1, m, a);
    else
        fuzz_json(t, data + 1, size - 1, m, a);
    free(m);
    free(a);
    return 0;
}
