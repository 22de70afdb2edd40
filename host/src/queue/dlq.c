/*
 * dlq.c — the dead-letter type and putting a message into a dead-letter
 * queue (dlq.h says what goes there and why).
 *
 * The type is host-defined, written here by hand rather than by
 * ringhost-gen, because its payload room depends on the kernel: a class of
 * rh_type descriptors, one per quarter octave of room, each with its own
 * validate/decode/encode that know their room as a constant (the X-macros
 * below).  A length read from a message, which may come from shared memory
 * another process wrote, is never trusted past that room.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/grow.h"
#include "base/log.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"
#include "queue/type_registry.h"

_Static_assert(sizeof(rh_dead_letter) == 576, "dead-letter header: 576 bytes");
_Static_assert(offsetof(rh_dead_letter, payload) == 576, "the payload follows the header");
_Static_assert(sizeof(rh_dead_letter) % 16 == 0, "the payload starts 16-byte aligned");
_Static_assert(RH_DLQ_QUEUE_MAX > RH_QUEUE_NAME_MAX, "a queue name and its NUL fit");

static const char *const stage_names[] = {"", "invalid", "expired", "failed", "undeliverable"};
#define STAGE_COUNT 5u

/* ------------------------------------------------------------ helpers -- */

static int fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A JSON string of the text in a fixed array (at most max bytes, stopping
 * at the first NUL).  Bytes that are not UTF-8 (a kernel's reason may hold
 * anything) become '?', so the dead letter still prints. */
static json_t *text_json(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char buf[RH_DLQ_REASON_MAX > RH_DLQ_TYPE_MAX ? RH_DLQ_REASON_MAX : RH_DLQ_TYPE_MAX];
    if (n > sizeof buf)
        n = sizeof buf;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    return json_stringn(buf, n);
}

static json_t *base64_json(const unsigned char *p, size_t n)
{
    size_t len;
    char *text = rh__base64_encode(p, n, &len);
    if (!text)
        return NULL;
    json_t *j = json_stringn(text, len);
    free(text);
    return j;
}

/* ---------------------------------------------------------- codec ------ */

static const struct {
    const char *name;
    size_t offset, size;
} text_fields[] = {
    {"reason", offsetof(rh_dead_letter, reason), RH_DLQ_REASON_MAX},
    {"kernel", offsetof(rh_dead_letter, kernel), RH_DLQ_KERNEL_MAX},
    {"source_queue", offsetof(rh_dead_letter, source_queue), RH_DLQ_QUEUE_MAX},
    {"type", offsetof(rh_dead_letter, type), RH_DLQ_TYPE_MAX},
};
#define N_TEXT (sizeof text_fields / sizeof text_fields[0])

static int dlq_validate(const void *msg, uint32_t room, char *why, size_t why_len)
{
    const rh_dead_letter *d = msg;
    if (d->stage < 1 || d->stage >= STAGE_COUNT)
        return fail(why, why_len, "stage: expected 1..%u, got %" PRIu32, STAGE_COUNT - 1,
                    d->stage);
    if (d->payload_len > room)
        return fail(why, why_len, "payload_len: expected at most %" PRIu32 " bytes, got %" PRIu32,
                    room, d->payload_len);
    for (size_t i = 0; i < N_TEXT; i++)
        if (strnlen((const char *)msg + text_fields[i].offset, text_fields[i].size) ==
            text_fields[i].size)
            return fail(why, why_len, "%s: expected a NUL-terminated text of at most %zu bytes",
                        text_fields[i].name, text_fields[i].size - 1);
    return 0;
}

static json_t *id_json(rh_id id)
{
    char text[37];
    rh_id_format(id, text);
    return json_string(text);
}

/* The original payload as JSON: its type's encoding when that type is
 * known and fits the room, else {"base64": ...}. */
static json_t *payload_json(const rh_dead_letter *d, uint32_t len, uint32_t room)
{
    json_t *j = NULL;
    const rh_type *t = d->type_fingerprint ? rh__type_registry_acquire(d->type_fingerprint, NULL)
                                           : NULL;
    if (t && t->encode && t->size <= room)
        j = t->encode(d->payload); /* held: its plugin stays loaded meanwhile */
    if (d->type_fingerprint)
        rh__type_registry_release();
    if (j)
        return j;
    json_t *b = base64_json(d->payload, len);
    return b ? json_pack("{s:o}", "base64", b) : NULL;
}

/* Safe on any bytes: every length is clamped to the room, every text to its
 * array. */
static json_t *dlq_encode(const void *msg, uint32_t room)
{
    const rh_dead_letter *d = msg;
    uint32_t len = d->payload_len < room ? d->payload_len : room;
    char fp[17];
    snprintf(fp, sizeof fp, "%016" PRIx64, d->type_fingerprint);
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "reason", text_json(d->reason, sizeof d->reason));
    bad |= json_object_set_new(o, "stage", d->stage >= 1 && d->stage < STAGE_COUNT
                                               ? json_string(stage_names[d->stage])
                                               : json_integer(d->stage));
    bad |= json_object_set_new(o, "kernel", text_json(d->kernel, sizeof d->kernel));
    bad |= json_object_set_new(o, "source_queue",
                               text_json(d->source_queue, sizeof d->source_queue));
    bad |= json_object_set_new(o, "type", text_json(d->type, sizeof d->type));
    bad |= json_object_set_new(o, "type_fingerprint", json_string(fp));
    bad |= json_object_set_new(o, "id", id_json(d->id));
    if (d->flags & RH_ENV_HAS_CORRELATION)
        bad |= json_object_set_new(o, "correlation_id", id_json(d->correlation_id));
    bad |= json_object_set_new(o, "priority", json_integer(d->priority));
    bad |= json_object_set_new(o, "port", json_integer(d->port));
    bad |= json_object_set_new(o, "enqueue_ns", json_integer((json_int_t)d->enqueue_ns));
    bad |= json_object_set_new(o, "dead_letter_ns", json_integer((json_int_t)d->dead_letter_ns));
    bad |= json_object_set_new(o, "payload_len", json_integer(len));
    bad |= json_object_set_new(o, "payload", payload_json(d, len, room));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int get_uint(const json_t *v, const char *key, uint64_t max, uint64_t *out, char *why,
                    size_t why_len)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return fail(why, why_len, "%s: expected an integer in 0..%" PRIu64, key, max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int decode_payload(const json_t *v, rh_dead_letter *d, uint32_t room, char *why,
                          size_t why_len)
{
    const json_t *b64 = json_object_get(v, "base64");
    if (b64 && json_object_size(v) == 1) {
        long n = json_is_string(b64) ? rh__base64_decode(json_string_value(b64),
                                                     json_string_length(b64), d->payload, room)
                                     : -1;
        if (n < 0)
            return fail(why, why_len, "payload.base64: expected base64 of at most %" PRIu32
                        " bytes", room);
        d->payload_len = (uint32_t)n;
        return 0;
    }
    /* The original message as its type's JSON: that type must be known. */
    const rh_type *t = rh__type_registry_acquire(d->type_fingerprint, d->type);
    int rc;
    if (!t || !t->decode)
        rc = fail(why, why_len, "payload: type \"%s\" is not known here; give the payload as "
                  "{\"base64\": ...}", d->type);
    else if (t->size > room)
        rc = fail(why, why_len, "payload: type \"%s\" is %u bytes, more than the %" PRIu32
                  " this dead-letter type holds", t->name, t->size, room);
    else if ((rc = t->decode(v, d->payload, why, why_len)) == 0) {
        d->payload_len = t->size;
        d->type_fingerprint = t->fingerprint;
    }
    rh__type_registry_release();
    return rc;
}

static int decode_fields(const json_t *json, rh_dead_letter *d, uint32_t room, char *why,
                         size_t why_len)
{
    if (!json_is_object(json))
        return fail(why, why_len, RH_DLQ_TYPE_NAME ": expected a JSON object");
    const char *key;
    json_t *v;
    const json_t *payload = NULL;
    json_object_foreach((json_t *)json, key, v) {
        size_t t = 0;
        while (t < N_TEXT && strcmp(key, text_fields[t].name) != 0)
            t++;
        uint64_t x = 0;
        if (t < N_TEXT) {
            if (!json_is_string(v) || json_string_length(v) >= text_fields[t].size ||
                strlen(json_string_value(v)) != json_string_length(v))
                return fail(why, why_len, "%s: expected a text of at most %zu bytes", key,
                            text_fields[t].size - 1);
            memcpy((char *)d + text_fields[t].offset, json_string_value(v),
                   json_string_length(v));
        } else if (!strcmp(key, "stage")) {
            uint32_t s = 1;
            while (s < STAGE_COUNT &&
                   !(json_is_string(v) && !strcmp(json_string_value(v), stage_names[s])))
                s++;
            if (s == STAGE_COUNT)
                return fail(why, why_len, "stage: expected \"invalid\", \"expired\", "
                            "\"failed\" or \"undeliverable\"");
            d->stage = s;
        } else if (!strcmp(key, "type_fingerprint")) {
            char *end = NULL;
            const char *s = json_string_value(v);
            if (s)
                x = strtoull(s, &end, 16);
            if (!s || !s[0] || *end || strlen(s) > 16)
                return fail(why, why_len, "type_fingerprint: expected up to 16 hex digits");
            d->type_fingerprint = x;
        } else if (!strcmp(key, "id") || !strcmp(key, "correlation_id")) {
            rh_id id;
            if (!json_is_string(v) || rh_id_parse(json_string_value(v), &id) != 0)
                return fail(why, why_len, "%s: expected a UUID or 32 hex digits", key);
            if (key[0] == 'i') {
                d->id = id;
            } else {
                d->correlation_id = id;
                d->flags |= RH_ENV_HAS_CORRELATION;
            }
        } else if (!strcmp(key, "priority") || !strcmp(key, "port")) {
            if (get_uint(v, key, key[1] == 'r' ? UINT8_MAX : UINT16_MAX, &x, why, why_len))
                return -1;
            if (key[1] == 'r')
                d->priority = (uint8_t)x;
            else
                d->port = (uint16_t)x;
        } else if (!strcmp(key, "enqueue_ns") || !strcmp(key, "dead_letter_ns")) {
            if (get_uint(v, key, INT64_MAX, &x, why, why_len))
                return -1;
            *(key[0] == 'e' ? &d->enqueue_ns : &d->dead_letter_ns) = x;
        } else if (!strcmp(key, "payload_len")) {
            if (get_uint(v, key, room, &x, why, why_len)) /* checked against the payload below */
                return -1;
        } else if (!strcmp(key, "payload")) {
            if (!json_is_object(v))
                return fail(why, why_len, "payload: expected an object");
            payload = v;
        } else {
            return fail(why, why_len, "%s: unknown field (" RH_DLQ_TYPE_NAME " has reason, "
                        "stage, kernel, source_queue, type, type_fingerprint, id, "
                        "correlation_id, priority, port, enqueue_ns, dead_letter_ns, "
                        "payload_len, payload)", key);
        }
    }
    if (payload && decode_payload(payload, d, room, why, why_len) != 0)
        return -1;
    const json_t *pl = json_object_get(json, "payload_len");
    if (pl && (uint64_t)json_integer_value(pl) > d->payload_len)
        return fail(why, why_len, "payload_len: expected at most the %" PRIu32 " bytes of the "
                    "payload, got %" JSON_INTEGER_FORMAT, d->payload_len, json_integer_value(pl));
    if (pl)
        d->payload_len = (uint32_t)json_integer_value(pl);
    return 0;
}

static int dlq_decode(const json_t *json, void *msg, uint32_t room, char *why, size_t why_len)
{
    memset(msg, 0, RH_DLQ_HEADER_SIZE + (size_t)room);
    if (decode_fields(json, msg, room, why, why_len) != 0) {
        memset(msg, 0, RH_DLQ_HEADER_SIZE + (size_t)room);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------ the classes ---- */

/* Rooms of a quarter octave each: s/4 * 2^n bytes, s = 4..7, n = 6..30 (64
 * bytes to 1.75 GiB), every one a multiple of 16. */
#define DLQ_OCTAVES(X)                                                                        \
    X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) \
    X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30)
#define DLQ_ROOM(n, s) ((uint32_t)(s) << ((n) - 2))

#define DLQ_CLASS_FNS(n, s)                                                                 \
    static int dlq_validate_##n##_##s(const void *m, char *why, size_t len)               \
    {                                                                                       \
        return dlq_validate(m, DLQ_ROOM(n, s), why, len);                                  \
    }                                                                                       \
    static int dlq_decode_##n##_##s(const json_t *j, void *m, char *why, size_t len)     \
    {                                                                                       \
        return dlq_decode(j, m, DLQ_ROOM(n, s), why, len);                                 \
    }                                                                                       \
    static json_t *dlq_encode_##n##_##s(const void *m)                                      \
    {                                                                                       \
        return dlq_encode(m, DLQ_ROOM(n, s));                                              \
    }
#define DLQ_OCTAVE_FNS(n) DLQ_CLASS_FNS(n, 4) DLQ_CLASS_FNS(n, 5) DLQ_CLASS_FNS(n, 6) \
                          DLQ_CLASS_FNS(n, 7)
DLQ_OCTAVES(DLQ_OCTAVE_FNS)

#define DLQ_CLASS_TYPE(n, s)                                                                \
    {.struct_size = sizeof(rh_type), .name = RH_DLQ_TYPE_NAME,                              \
     .size = RH_DLQ_HEADER_SIZE + DLQ_ROOM(n, s), .align = _Alignof(rh_dead_letter),        \
     .validate = dlq_validate_##n##_##s, .decode = dlq_decode_##n##_##s,                    \
     .encode = dlq_encode_##n##_##s},
#define DLQ_OCTAVE_TYPES(n) DLQ_CLASS_TYPE(n, 4) DLQ_CLASS_TYPE(n, 5) DLQ_CLASS_TYPE(n, 6) \
                            DLQ_CLASS_TYPE(n, 7)

/* Schema and fingerprint are filled in once (pthread_once) before any
 * pointer to a class leaves this file. */
static rh_type classes[] = {DLQ_OCTAVES(DLQ_OCTAVE_TYPES)};
#define N_CLASSES (sizeof classes / sizeof classes[0])
static char schemas[N_CLASSES][128];
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

/* FNV-1a 64, as ringhost-gen hashes a canonical schema. */
static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h ? h : 1;
}

static void classes_init(void)
{
    for (size_t i = 0; i < N_CLASSES; i++) {
        /* Canonical: keys sorted, no spaces.  "header" and "version" change
         * with the layout, so a host and a client of different layouts
         * refuse each other's dead letters instead of misreading them. */
        snprintf(schemas[i], sizeof schemas[i],
                 "{\"header\":%u,\"name\":\"" RH_DLQ_TYPE_NAME "\",\"payload_max\":%u,"
                 "\"version\":1}",
                 RH_DLQ_HEADER_SIZE, classes[i].size - RH_DLQ_HEADER_SIZE);
        classes[i].schema = schemas[i];
        classes[i].fingerprint = fnv1a64(schemas[i]);
    }
}

const rh_type *rh__dlq_type_for(uint32_t payload_max)
{
    pthread_once(&classes_once, classes_init);
    for (size_t i = 0; i < N_CLASSES; i++) /* rooms grow with i */
        if (classes[i].size - RH_DLQ_HEADER_SIZE >= payload_max)
            return &classes[i];
    return NULL;
}

const rh_type *rh__dlq_type_by_fingerprint(uint64_t fingerprint)
{
    pthread_once(&classes_once, classes_init);
    for (size_t i = 0; i < N_CLASSES; i++)
        if (classes[i].fingerprint == fingerprint)
            return &classes[i];
    return NULL;
}

int rh__dlq_is_type(const rh_type *t)
{
    return t >= &classes[0] && t < &classes[N_CLASSES];
}

uint32_t rh__dlq_payload_room(const rh_type *t)
{
    return t->size - RH_DLQ_HEADER_SIZE;
}

rh_queue_config rh__dlq_config(const rh_queue_config *defaults, const rh_queue_config *declared)
{
    rh_queue_config c;
    if (declared) {
        c = *declared;
    } else {
        c = *defaults;
        c.capacity = RH_DLQ_CAPACITY_DEFAULT;
        c.backpressure = RH_BP_DROP_OLDEST;
        c.dedup_window = 0;
        c.ttl_ms = 0;
    }
    if (c.backpressure == RH_BP_BLOCK)
        c.backpressure = RH_BP_DROP_OLDEST;
    /* It may evict, so it cannot keep messages across a restart the way a
     * persist queue does (queue_persist.c): dead letters end with the host. */
    c.persist = 0;
    return c;
}

/* ------------------------------------------------------------ put ------ */

/* One buffer per thread for building a dead letter: it grows to the
 * largest dead letter the thread has built and is freed when the thread
 * ends. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

typedef struct scratch {
    size_t room;
    _Alignas(16) unsigned char buf[];
} scratch;

static void scratch_init(void)
{
    (void)pthread_key_create(&scratch_key, free);
}

static rh_dead_letter *scratch_get(size_t size)
{
    pthread_once(&scratch_once, scratch_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (s && s->room >= size)
        return (rh_dead_letter *)s->buf;
    scratch *n = realloc(s, sizeof *n + size);
    if (!n)
        return NULL;
    n->room = size;
    pthread_setspecific(scratch_key, n);
    return (rh_dead_letter *)n->buf;
}

int rh__dlq_put(rh_queue *dlq, rh_queue *source, const char *kernel, const rh_type *type,
                rh_dlq_stage stage, const rh_envelope *env, const void *payload,
                const char *reason, FILE *log)
{
    const rh_type *dt = rh_queue_type(dlq);
    uint32_t room = dt && rh__dlq_is_type(dt) ? rh__dlq_payload_room(dt) : 0;
    uint32_t len = env->payload_len;
    if (type && len > type->size)
        len = type->size;
    if (len > room)
        len = room;
    rh_dead_letter fallback; /* header only, when no buffer can be had */
    rh_dead_letter *d = scratch_get(RH_DLQ_HEADER_SIZE + (size_t)len);
    const char *lost = "";
    if (!d) {
        d = &fallback;
        lost = len ? " (payload not kept: out of memory)" : "";
        len = 0;
    }
    memset(d, 0, RH_DLQ_HEADER_SIZE);
    d->stage = stage;
    d->payload_len = len;
    d->type_fingerprint = type ? type->fingerprint : 0;
    d->id = env->id;
    d->correlation_id = env->correlation_id;
    d->enqueue_ns = env->enqueue_ns;
    d->dead_letter_ns = rh_now_ns();
    d->priority = env->priority;
    d->flags = env->flags;
    d->port = env->port;
    snprintf(d->reason, sizeof d->reason, "%s%s", reason ? reason : "", lost);
    snprintf(d->kernel, sizeof d->kernel, "%s", kernel ? kernel : "");
    snprintf(d->source_queue, sizeof d->source_queue, "%s", source ? rh_queue_name(source) : "");
    snprintf(d->type, sizeof d->type, "%s", type ? type->name : "");
    if (len)
        memcpy(d->payload, payload, len);

    /* The dead letter keeps the original's id and correlation, so whoever
     * reads the dead-letter queue sees the id the sender was given. */
    rh_envelope out = {.id = env->id, .correlation_id = env->correlation_id,
                       .priority = env->priority,
                       .flags = (uint8_t)(env->flags & RH_ENV_HAS_CORRELATION)};
    int rc = rh_send(dlq, &out, d, RH_DLQ_HEADER_SIZE + len, NULL);
    /* An undeliverable output was never accepted by its (output) queue:
     * the output bridge counts it, the queue's line must not. */
    if (stage != RH_DLQ_UNDELIVERABLE)
        rh__queue_count(source, RH_QC_DEAD_LETTERED, 1);
    if (rc != 0 && log) {
        char id[37];
        rh_id_format(env->id, id);
        rh__log_event(log, RH_LOG_WARN, "dlq.refused",
                      "dlq=%s backpressure=%s id=%s source=%s error=%s", rh_queue_name(dlq),
                      rh_backpressure_name(rh_queue_config_of(dlq)->backpressure), id,
                      source ? rh_queue_name(source) : "-", rh_strerror(rc));
    }
    return rc;
}
