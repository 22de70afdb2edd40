/*
 * json_check.c — reading a JSON document value by value, with errors that
 * name the file and the JSON path of the offending value.
 *
 * The manifest loader (manifest/manifest_load.c) is written on top of these: it says which
 * keys an object may hold and what each value must be, and these helpers
 * check it and write the one message form every check uses,
 *     <file>: <json.path>: expected <what>, got <value>
 * plus the unknown-key form that suggests the nearest known key.  Kept apart
 * from the manifest loader so that the manifest file reads as the manifest schema,
 * and so that paths and messages are written in one way only.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_check.h"

#define VALUE_SHOWN 160  /* longest offending value we quote */

/* ------------------------------------------------ paths and messages ---- */

/* Append s to out as a JSON string literal (quotes, escapes). */
static size_t quote(char *out, size_t n, const char *s)
{
    size_t w = 0;
#define PUT(c) do { if (w + 1 < n) out[w++] = (c); } while (0)
    PUT('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c < 0x20) {
            char hex[8];
            snprintf(hex, sizeof hex, "\\u%04x", c);
            for (const char *h = hex; *h; h++)
                PUT(*h);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
#undef PUT
    if (n)
        out[w] = '\0';
    return w;
}

void rh__manifest_path_key(char *out, size_t n, const char *parent, const char *key)
{
    int plain = key[0] != '\0';
    for (const char *p = key; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            plain = 0;
    if (plain) {
        snprintf(out, n, "%s%s%s", parent, parent[0] ? "." : "", key);
        return;
    }
    char q[RH_JSON_PATH_LEN];
    quote(q, sizeof q, key);
    snprintf(out, n, "%s[%s]", parent, q);
}

void rh__json_path_index(char *out, size_t n, const char *parent, size_t i)
{
    snprintf(out, n, "%s[%zu]", parent, i);
}

/* The offending value as it would be written in JSON, shortened. */
static void describe(const json_t *v, char *out, size_t n)
{
    if (!v) {
        snprintf(out, n, "nothing");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(out, n, "(a value that cannot be printed)");
        return;
    }
    if (strlen(s) >= n)
        snprintf(out, n, "%.*s...", (int)(n - 4), s);
    else
        snprintf(out, n, "%s", s);
    free(s);
}

static int vfail(const rh_json_doc *doc, const char *path, const char *got, const char *fmt,
                 va_list ap)
{
    char what[512];
    vsnprintf(what, sizeof what, fmt, ap);
    return rh_error_set(doc->err, RH_EMANIFEST, "%s: %s: expected %s, got %s", doc->file, path,
                        what, got);
}

/* "<file>: <path>: expected <fmt...>, got <v>". Returns RH_EMANIFEST. */
__attribute__((format(printf, 4, 5)))
int rh__json_fail(const rh_json_doc *doc, const char *path, const json_t *v, const char *fmt,
                  ...)
{
    char got[VALUE_SHOWN];
    describe(v, got, sizeof got);
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(doc, path, got, fmt, ap);
    va_end(ap);
    return rc;
}

/* The same, where the offending value is a string (an object key). */
__attribute__((format(printf, 4, 5)))
int rh__json_fail_str(const rh_json_doc *doc, const char *path, const char *s, const char *fmt,
                      ...)
{
    char got[VALUE_SHOWN];
    quote(got, sizeof got, s);
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(doc, path, got, fmt, ap);
    va_end(ap);
    return rc;
}

/* "\"a\", \"b\" or \"c\"" */
static void name_list(char *out, size_t n, const char *const *names, size_t count)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count && w < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
        int k = snprintf(out + w, n - w, "%s\"%s\"", sep, names[i]);
        if (k < 0)
            break;
        w += (size_t)k;
    }
}

/* Edit distance, for suggesting the key the author meant. */
static size_t levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Every key of obj must be one of known; otherwise name the nearest. */
int rh__json_check_keys(const rh_json_doc *doc, const json_t *obj, const char *path,
                        const char *const *known, size_t count)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)obj, key, v) {
        size_t i, best = count, best_d = 4; /* suggest within distance 3 */
        for (i = 0; i < count && strcmp(key, known[i]) != 0; i++) {
            size_t d = levenshtein(key, known[i]);
            if (d < best_d) {
                best_d = d;
                best = i;
            }
        }
        if (i < count)
            continue;
        char k[VALUE_SHOWN];
        quote(k, sizeof k, key);
        const char *where = path[0] ? path : "top level";
        if (best < count)
            return rh_error_set(doc->err, RH_EMANIFEST,
                                "%s: %s: unknown key %s; did you mean \"%s\"?", doc->file, where,
                                k, known[best]);
        char list[512];
        name_list(list, sizeof list, known, count);
        return rh_error_set(doc->err, RH_EMANIFEST, "%s: %s: unknown key %s; known keys are %s",
                            doc->file, where, k, list);
    }
    return 0;
}

/* ------------------------------------------------------- values ---- */

/* s matches [A-Za-z0-9_-] (plus '.' when dots) and is 1..max long. */
int rh__json_name_ok(const char *s, size_t max, int dots)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!isalnum((unsigned char)c) && c != '_' && c != '-' && !(dots && c == '.'))
            return 0;
    }
    return n >= 1 && n <= max;
}

/* A string naming something: [A-Za-z0-9_-] (+ '.'), 1..size-1 long. */
int rh__json_get_name(const rh_json_doc *doc, const json_t *v, const char *path, const char *noun,
                      int dots, char *out, size_t size)
{
    if (!json_is_string(v) || !rh__json_name_ok(json_string_value(v), size - 1, dots))
        return rh__json_fail(doc, path, v, "%s of 1 to %zu characters from [A-Za-z0-9%s_-]", noun,
                             size - 1, dots ? "." : "");
    snprintf(out, size, "%s", json_string_value(v));
    return 0;
}

/*
 * Optional keys of obj.  Absent: *out keeps the default the caller put
 * there.  Present: checked, and an error names parent.key.
 */

/* An integer in lo..hi (a power of two if pow2); unit is said in the
 * message ("slots"), or NULL. */
int rh__json_opt_uint(const rh_json_doc *doc, const json_t *obj, const char *parent,
                      const char *key, long long lo, long long hi, int pow2, const char *unit,
                      uint32_t *out)
{
    const json_t *v = json_object_get(obj, key);
    char p[RH_JSON_PATH_LEN];
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        long long x = json_integer_value(v);
        if (x >= lo && x <= hi && (!pow2 || (x & (x - 1)) == 0)) {
            *out = (uint32_t)x;
            return 0;
        }
    }
    rh__manifest_path_key(p, sizeof p, parent, key);
    return rh__json_fail(doc, p, v, "%s between %lld and %lld%s%s%s",
                         pow2 ? "a power of two" : "an integer", lo, hi, unit ? " (" : "",
                         unit ? unit : "", unit ? ")" : "");
}

/* One of names; *out receives its index. */
int rh__json_opt_enum(const rh_json_doc *doc, const json_t *obj, const char *parent,
                      const char *key, const char *const *names, size_t count, int *out)
{
    const json_t *v = json_object_get(obj, key);
    char p[RH_JSON_PATH_LEN], list[256];
    if (!v)
        return 0;
    for (size_t i = 0; json_is_string(v) && i < count; i++) {
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    rh__manifest_path_key(p, sizeof p, parent, key);
    name_list(list, sizeof list, names, count);
    return rh__json_fail(doc, p, v, "%s%s", count > 2 ? "one of " : "", list);
}

int rh__json_opt_bool(const rh_json_doc *doc, const json_t *obj, const char *parent,
                      const char *key, int *out)
{
    const json_t *v = json_object_get(obj, key);
    char p[RH_JSON_PATH_LEN];
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    rh__manifest_path_key(p, sizeof p, parent, key);
    return rh__json_fail(doc, p, v, "true or false");
}
