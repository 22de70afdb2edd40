/*
 * schema.h — the message schema as ringhost-gen understands it: the field
 * kinds, the checked model of one message type (its fields with their C
 * layout, its names, its fingerprint), and the parser that builds it.
 *
 * schema.c reads and checks a schema JSON into this model; the emitters
 * (emit_c.c, emit_codec_helpers.c) only read it, so every rule a schema
 * must follow lives in one file and the generated C in others.
 */
#ifndef RH_GEN_SCHEMA_H
#define RH_GEN_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NAME_MAX_LEN 64
#define FIELDS_MAX 1024
#define ENUM_VALUES_MAX 4096
#define ELEMS_MAX (1u << 24)          /* "max" of an array or string */
#define MESSAGE_BYTES_MAX (256u << 20) /* the whole struct */

/* ------------------------------------------------------------ kinds ---- */

enum kind { K_BOOL, K_I8, K_U8, K_I16, K_U16, K_I32, K_U32, K_I64, K_U64, K_F32, K_F64,
            K_ENUM, K_STRING, K_COUNT };

/* The last kind that may be an array element (bool and the numbers). */
#define K_LAST_ELEMENT K_F64

struct kind_info {
    const char *name;  /* schema spelling */
    const char *ctype; /* C element type */
    unsigned size;     /* bytes, and alignment */
    char cls;          /* b bool, i signed, u unsigned, f float, e enum, s string */
    const char *lo;    /* C expressions for the integer range */
    const char *hi;
};

/* Indexed by enum kind. */
extern const struct kind_info kinds[K_COUNT];

/* -------------------------------------------------------- the schema ---- */

typedef struct field {
    const char *name; /* borrowed from the parsed JSON, which lives to the end */
    enum kind kind;
    int is_array;
    uint32_t max;     /* arrays: elements; strings: bytes without the NUL */
    const char **values;
    size_t n_values;
    int optional;       /* "optional": true, or a "default": may be missing from JSON */
    const json_t *def;  /* "default", checked against the type; NULL when none (borrowed) */
    size_t offset;     /* of the value (array data, string chars) */
    size_t len_offset; /* arrays: of <name>_len */
} field;

typedef struct schema {
    const char *file; /* for messages */
    const char *name; /* "vector_add.request" */
    char cname[NAME_MAX_LEN + 1]; /* "vector_add_request" */
    char upper[NAME_MAX_LEN + 1]; /* "VECTOR_ADD_REQUEST" */
    field *fields;
    size_t n_fields;
    char *canonical;
    uint64_t fingerprint;
    size_t size;
    size_t align;
} schema;

/* "ringhost-gen: <message>" on stderr and exit 1: an I/O failure (or out
 * of memory). */
void die_io(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* '.' and '-' to '_', optionally upper-cased, into out (NAME_MAX_LEN + 1). */
void to_c_name(const char *s, char *out, int upper);

/* Fill *s (whose file is set) from the parsed schema root: check every
 * rule, lay the struct out, compute the canonical text and fingerprint.  A
 * schema that breaks a rule ends the process with status 2 and a message
 * naming s->file and the JSON path; running out of memory with status 1. */
void parse_schema(schema *s, const json_t *root);

#endif /* RH_GEN_SCHEMA_H */
