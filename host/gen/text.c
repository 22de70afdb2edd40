/*
 * text.c — the growable text buffer (sb, emit.h) the emitters print the
 * generated C into, and its one escaping rule (a C string literal).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "emit.h"

void out(sb *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            die_io("formatting failed");
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            die_io("out of memory");
        b->p = p;
        b->cap = cap;
    }
}

/* s as a C string literal (escaped), split into lines of about 80 bytes. */
void out_c_string(sb *b, const char *s)
{
    size_t col = 0;
    out(b, "    \"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            out(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            out(b, "\\%03o", c);
        else
            out(b, "%c", c);
        if (++col >= 88 && s[1]) {
            out(b, "\"\n    \"");
            col = 0;
        }
    }
    out(b, "\"");
}
