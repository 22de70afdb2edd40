/*
 * json_check.h — reading a JSON document (parsed by jansson) value by value,
 * with errors that name the file and the JSON path.
 *
 * Every failing check fills the document's rh_error with RH_EMANIFEST and a
 * message of the form
 *     <file>: <json.path>: expected <what>, got <value>
 * where <value> is the offending JSON value written compactly (cut to about
 * 160 bytes), or "nothing" when a required key is missing; an unknown key
 * gives
 *     <file>: <json.path>: unknown key "capactiy"; did you mean "capacity"?
 * and every function below returns that RH_EMANIFEST (0 when the value is
 * fine), so callers chain them with ||.  The manifest loader (manifest/manifest_load.c) is
 * the user; the message form is documented for users in manifest.h.
 */
#ifndef RH_JSON_CHECK_H
#define RH_JSON_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ringhost/ringhost.h"

#define RH_JSON_PATH_LEN 256 /* bytes: longest JSON path we write */

/* The document being read: the file named first in every message, and
 * where the error goes. */
typedef struct rh_json_doc {
    const char *file; /* the path as given: first in every message */
    rh_error *err;
} rh_json_doc;

/* ------------------------------------------------------------ paths ---- */

/* The one way to write a JSON path in an error message: parent + key as
 * "parent.key", or "parent[\"key\"]" when key holds anything but
 * [A-Za-z0-9_-] (a dot, a space...).  parent "" gives just the key.
 * E.g. ("kernels[0].inputs", "requests") -> "kernels[0].inputs.requests",
 * ("queues", "vadd.in") -> "queues[\"vadd.in\"]".  Truncates to n-1 bytes.
 * (Named for the manifest, whose paths it writes; the runtime and the
 * wiring write the same paths for the same files.) */
void rh__manifest_path_key(char *out, size_t n, const char *parent, const char *key);

/* parent + "[i]", e.g. ("kernels", 0) -> "kernels[0]".  Truncates to n-1
 * bytes. */
void rh__json_path_index(char *out, size_t n, const char *parent, size_t i);

/* ---------------------------------------------------------- messages ---- */

/* "<file>: <path>: expected <fmt...>, got <v>", v written as compact JSON
 * (NULL: "nothing").  Returns RH_EMANIFEST. */
int rh__json_fail(const rh_json_doc *doc, const char *path, const json_t *v, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* The same, where the offending value is a string s (an object key),
 * quoted as a JSON string.  Returns RH_EMANIFEST. */
int rh__json_fail_str(const rh_json_doc *doc, const char *path, const char *s, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* Every key of obj (an object) must be one of the count names in known;
 * otherwise RH_EMANIFEST naming the first unknown key and the known key
 * nearest to it (edit distance 3 at most), or listing all known keys when
 * none is near.  path "" is reported as "top level".  0 when all are known. */
int rh__json_check_keys(const rh_json_doc *doc, const json_t *obj, const char *path,
                        const char *const *known, size_t count);

/* ------------------------------------------------------------ values ---- */

/* Non-zero when s matches [A-Za-z0-9_-] (plus '.' when dots) and is 1..max
 * bytes long.  For keys, which are checked before there is a json_t. */
int rh__json_name_ok(const char *s, size_t max, int dots);

/* v must be a string naming something (noun, e.g. "a kernel name"):
 * [A-Za-z0-9_-] (+ '.' when dots), 1..size-1 bytes; copied to out.  v NULL
 * (a missing required key) fails too.  0 or RH_EMANIFEST at path. */
int rh__json_get_name(const rh_json_doc *doc, const json_t *v, const char *path, const char *noun,
                      int dots, char *out, size_t size);

/*
 * Optional keys of obj.  Absent: *out keeps the default the caller put
 * there, and the call returns 0.  Present: checked, and an error names
 * parent.key (see rh__manifest_path_key).
 */

/* An integer in lo..hi (a power of two if pow2); unit ("slots") is said in
 * the message, or NULL. */
int rh__json_opt_uint(const rh_json_doc *doc, const json_t *obj, const char *parent,
                      const char *key, long long lo, long long hi, int pow2, const char *unit,
                      uint32_t *out);

/* One of the count strings in names; *out receives its index. */
int rh__json_opt_enum(const rh_json_doc *doc, const json_t *obj, const char *parent,
                      const char *key, const char *const *names, size_t count, int *out);

/* true or false; *out receives 1 or 0. */
int rh__json_opt_bool(const rh_json_doc *doc, const json_t *obj, const char *parent,
                      const char *key, int *out);

#endif /* RH_JSON_CHECK_H */
