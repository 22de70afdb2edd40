/*
 * base64.c — RFC 4648 base64 (the standard alphabet, '=' padding), how a
 * dead letter shows a payload whose type is not known (queue/dlq.c).
 * Written here rather than taken from a library: jansson has none, and
 * these forty lines are all the host needs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rh__base64_encode(const void *bytes, size_t n, size_t *len)
{
    const unsigned char *p = bytes;
    size_t out_len = (n + 2) / 3 * 4;
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = b64_chars[(v >> 18) & 63];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_chars[v & 63] : '=';
    }
    out[o] = '\0';
    if (len)
        *len = o;
    return out;
}

long rh__base64_decode(const char *s, size_t len, unsigned char *out, size_t room)
{
    if (len % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            const char *at = c ? strchr(b64_chars, c) : NULL;
            if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
            } else if (at && !pad) {
                v = v << 6 | (uint32_t)(at - b64_chars);
            } else {
                return -1;
            }
        }
        for (int k = 0; k < 3 - pad; k++) {
            if (o == room)
                return -1;
            out[o++] = (unsigned char)(v >> (16 - 8 * k));
        }
    }
    return (long)o;
}
