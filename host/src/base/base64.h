/*
 * base64.h — RFC 4648 base64 with '=' padding (base64.c).
 */
#ifndef RH_BASE_BASE64_H
#define RH_BASE_BASE64_H

#include <stddef.h>

/* n bytes as base64 text, NUL-terminated, malloc'd (free it); its length
 * in *len when len is not NULL.  NULL when out of memory. */
char *rh__base64_encode(const void *bytes, size_t n, size_t *len);

/* Decode len bytes of base64 text s into out (room bytes): the number of
 * bytes written, or -1 when s is not padded base64 or does not fit. */
long rh__base64_decode(const char *s, size_t len, unsigned char *out, size_t room);

#endif /* RH_BASE_BASE64_H */
