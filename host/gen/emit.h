/*
 * emit.h — what the emitters share: the growable text buffer they print
 * into, and their entry points.  emit_c.c writes the header and the codec
 * of one message type; emit_codec_helpers.c writes the static helper
 * functions a codec calls, only those the type needs.
 */
#ifndef RH_GEN_EMIT_H
#define RH_GEN_EMIT_H

#include <stddef.h>

#include "schema.h"

/* Text being generated: len bytes in p, NUL-terminated, cap allocated. */
typedef struct sb {
    char *p;
    size_t len, cap;
} sb;

/* Append printf-style text to b (exits with status 1 when out of memory). */
void out(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write s as a C string literal (escaped), split into lines of about 80
 * bytes. */
void out_c_string(sb *b, const char *s);

/* The kinds of value a schema uses, so that only the helpers it needs are
 * emitted. */
typedef struct needs {
    int int_, uint_, real, boolean, enum_, string, array, u64;
} needs;

/* <cname>.h: the struct, enum constants, layout asserts, declarations. */
void gen_header(sb *b, const schema *s);

/* <cname>.c: validate, decode, encode and the rh_type descriptor. */
void gen_codec(sb *b, const schema *s);

/* The static helpers a codec uses; only those this type needs are emitted so
 * the file compiles without unused-function warnings. */
void gen_helpers(sb *b, const needs *n);

#endif /* RH_GEN_EMIT_H */
