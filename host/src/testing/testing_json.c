/*
 * testing_json.c — rh_harness_expect_json (ringhost/testing.h): compare an
 * output, decoded to JSON, with the JSON a test expects, and name the first
 * path that differs.  Kept apart from the fake host (testing.c): it only
 * uses the harness's public calls.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringhost/testing.h"

/* A JSON value for a message, shortened for a failure message (the caller
 * frees it). */
static char *dump_short(const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (text && strlen(text) > 200)
        strcpy(text + 196, "...");
    return text;
}

/*
 * First difference between got and want, written to why with the JSON path
 * (".sum", ".a[3]") in path: 0 when equal.  Numbers compare by value whether
 * jansson holds them as integers or reals.
 */
static int json_diff(const json_t *got, const json_t *want, char *path, size_t path_len,
                     char *why, size_t why_len)
{
    size_t here = strlen(path);
    if (json_is_number(got) && json_is_number(want)) {
        if (json_is_integer(got) && json_is_integer(want)
                ? json_integer_value(got) == json_integer_value(want)
                : json_number_value(got) == json_number_value(want))
            return 0;
    } else if (json_is_object(got) && json_is_object(want)) {
        const char *key;
        json_t *w;
        json_object_foreach((json_t *)want, key, w) {
            snprintf(path + here, path_len - here, ".%s", key);
            json_t *g = json_object_get(got, key);
            if (!g) {
                snprintf(why, why_len, "at %s: missing, expected it", path);
                return -1;
            }
            if (json_diff(g, w, path, path_len, why, why_len))
                return -1;
        }
        json_t *g;
        json_object_foreach((json_t *)got, key, g) {
            if (!json_object_get(want, key)) {
                snprintf(path + here, path_len - here, ".%s", key);
                snprintf(why, why_len, "at %s: present, not expected", path);
                return -1;
            }
        }
        path[here] = '\0';
        return 0;
    } else if (json_is_array(got) && json_is_array(want)) {
        if (json_array_size(got) != json_array_size(want)) {
            snprintf(why, why_len, "at %s: got %zu elements, expected %zu", here ? path : "top",
                     json_array_size(got), json_array_size(want));
            return -1;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(path + here, path_len - here, "[%zu]", i);
            if (json_diff(json_array_get(got, i), json_array_get(want, i), path, path_len, why,
                          why_len))
                return -1;
        }
        path[here] = '\0';
        return 0;
    } else if (json_equal((json_t *)got, (json_t *)want)) {
        return 0;
    }
    char *g = dump_short(got), *w = dump_short(want);
    snprintf(why, why_len, "at %s: got %s, expected %s", here ? path : "top", g ? g : "?",
             w ? w : "?");
    free(g);
    free(w);
    return -1;
}

int rh_harness_expect_json(const rh_harness *h, uint32_t i, const char *expected, char *why,
                           size_t why_len)
{
    char local[8];
    if (!why || !why_len) {
        why = local;
        why_len = sizeof local;
    }
    uint32_t n = rh_harness_output_count(h);
    if (i >= n) {
        snprintf(why, why_len, "output %u: the kernel emitted %u output(s)", i, n);
        return -1;
    }
    const rh_harness_output *o = rh_harness_output_at(h, i);
    const rh_port *out_port = &rh_harness_desc(h)->outputs[o->port];
    const char *port = out_port->name;
    json_error_t jerr;
    json_t *want = json_loads(expected ? expected : "", JSON_DECODE_ANY, &jerr);
    if (!want) {
        snprintf(why, why_len, "output %u: the expected text is not JSON: %s (column %d)", i,
                 jerr.text, jerr.column);
        return -1;
    }
    json_t *got = out_port->type->encode(o->payload);
    int rc = -1;
    if (!got) {
        snprintf(why, why_len, "output %u (port \"%s\"): encode failed (out of memory)", i, port);
    } else {
        char path[256] = "", diff[768];
        if (json_diff(got, want, path, sizeof path, diff, sizeof diff) == 0) {
            rc = 0;
            why[0] = '\0';
        } else {
            char *text = json_dumps(got, JSON_COMPACT);
            snprintf(why, why_len, "output %u (port \"%s\"): %s; output is %s", i, port, diff,
                     text ? text : "?");
            free(text);
        }
    }
    json_decref(got);
    json_decref(want);
    return rc;
}
