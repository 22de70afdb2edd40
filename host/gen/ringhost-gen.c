/*
 * ringhost-gen — message schema (JSON) -> C header, codec and type descriptor.
 *
 *     ringhost-gen SCHEMA.json --out-dir DIR
 *
 * reads a schema such as
 *
 *     {"name": "vector_add.request",
 *      "fields": [{"name": "op", "type": "enum", "values": ["add", "sub"]},
 *                 {"name": "a",  "type": "f32[]", "max": 1024}]}
 *
 * and writes DIR/<cname>.h and DIR/<cname>.c, where cname is the type name
 * with '.' and '-' replaced by '_' (vector_add_request).  The header holds
 * the struct, the enum constants, static asserts pinning the layout, and the
 * declarations; the .c holds validate/decode/encode and the rh_type
 * descriptor (see ringhost/kernel.h).
 *
 * Layout rules (the static asserts in the header check the compiler agrees):
 * fields in schema order, each naturally aligned; an enum is a uint32_t; a
 * string of max bytes is char[max + 1], always NUL-terminated; an array "T[]"
 * of max elements is `uint32_t <name>_len; T <name>[max];`.
 *
 * JSON mapping (decode accepts what encode writes, so encode/decode round-trip):
 *  - integers are JSON integers; u64 values above INT64_MAX (which jansson
 *    cannot hold as integers) are written, and accepted, as decimal strings;
 *  - f32/f64 are JSON numbers; the non-finite values JSON cannot spell are
 *    written, and accepted, as the strings "inf", "-inf" and "nan";
 *  - enums are their value names; strings are UTF-8 strings.
 *
 * The fingerprint is FNV-1a 64 of the canonical schema text, json_dumps()
 * with JSON_COMPACT | JSON_SORT_KEYS of the parsed schema; that text is also
 * stored in rh_type.schema.
 *
 * Exit status: 0 written, 2 bad usage or bad schema (the message names the
 * file and the JSON path), 1 an I/O failure.
 *
 * This file is the command: its arguments, loading the JSON, and writing
 * the generated files.  The model and its checks are schema.c; the
 * generated text is emit_c.c and emit_codec_helpers.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "emit.h"
#include "schema.h"

/* ------------------------------------------------------------ files ---- */

static void write_file(const char *dir, const char *name, const sb *b)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        die_io("%s: cannot create: %s", tmp, strerror(errno));
    if (fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0) {
        int e = errno;
        remove(tmp);
        die_io("%s: cannot write: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        die_io("%s: cannot rename to %s: %s", tmp, path, strerror(e));
    }
}

static void make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            die_io("%s: cannot create folder: %s", p, strerror(errno));
        *q = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        die_io("%s: cannot create folder: %s", p, strerror(errno));
}

/* ------------------------------------------------------------- main ---- */

static void usage(FILE *to)
{
    fputs("usage: ringhost-gen SCHEMA.json --out-dir DIR\n"
          "Writes DIR/<cname>.h and DIR/<cname>.c for the message type the schema declares\n"
          "(cname: the type name with '.' and '-' turned into '_').\n"
          "\n"
          "A schema: {\"name\": \"vector_add.request\", \"fields\": [FIELD, ...]}\n"
          "  FIELD: {\"name\": C_IDENTIFIER, \"type\": TYPE [, \"max\": N] [, \"values\": [...]]}\n"
          "Field types (C type, bytes):\n",
          to);
    for (int k = 0; k < K_COUNT; k++) {
        const char *what = kinds[k].cls == 'e'   ? "one of \"values\": [\"a\", \"b\", ...] (JSON: the name)"
                           : kinds[k].cls == 's' ? "UTF-8 text of at most \"max\" bytes (char[max + 1])"
                           : kinds[k].cls == 'b' ? "true or false"
                           : kinds[k].cls == 'f' ? "IEEE float (JSON: number, \"inf\", \"-inf\", \"nan\")"
                           : kinds[k].size == 8 && kinds[k].cls == 'u'
                               ? "integer (JSON: above INT64_MAX as a decimal string)"
                               : "integer (JSON: integer, range checked)";
        fprintf(to, "  %-7s %-9s %u  %s\n", kinds[k].name, kinds[k].ctype, kinds[k].size, what);
    }
    fprintf(to,
            "  T[]     T of bool or a number type: an array of at most \"max\" elements\n"
            "          (uint32_t <name>_len; T <name>[max];)\n"
            "\"max\": 1..%u, required for string and T[], refused elsewhere.  No nesting: a\n"
            "field is one of the types above.  The fingerprint is FNV-1a 64 of the schema\n"
            "as compact JSON with sorted keys: a field's name, type, max, enum values or\n"
            "their order, the field order or the type name change it; spacing and the\n"
            "order of keys inside an object do not.  docs/SCHEMA.md has the whole language.\n",
            ELEMS_MAX);
}

int main(int argc, char **argv)
{
    const char *file = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strncmp(argv[i], "--out-dir=", 10) == 0) {
            dir = argv[i] + 10;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "ringhost-gen: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file || !dir || !dir[0]) {
        usage(stderr);
        return 2;
    }

    schema s = {.file = file};
    json_error_t jerr;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line < 1)
            fprintf(stderr, "%s: %s\n", file, jerr.text);
        else
            fprintf(stderr, "%s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
        return 2;
    }
    parse_schema(&s, root);

    sb h = {0}, c = {0};
    gen_header(&h, &s);
    gen_codec(&c, &s);
    make_dirs(dir);
    char name[NAME_MAX_LEN + 8];
    snprintf(name, sizeof name, "%s.h", s.cname);
    write_file(dir, name, &h);
    snprintf(name, sizeof name, "%s.c", s.cname);
    write_file(dir, name, &c);

    free(h.p);
    free(c.p);
    for (size_t i = 0; i < s.n_fields; i++)
        free(s.fields[i].values);
    free(s.fields);
    free(s.canonical);
    json_decref(root);
    return 0;
}
