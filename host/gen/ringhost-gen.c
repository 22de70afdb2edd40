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
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static const struct kind_info {
    const char *name;  /* schema spelling */
    const char *ctype; /* C element type */
    unsigned size;     /* bytes, and alignment */
    char cls;          /* b bool, i signed, u unsigned, f float, e enum, s string */
    const char *lo;    /* C expressions for the integer range */
    const char *hi;
} kinds[K_COUNT] = {
    [K_BOOL] = {"bool", "bool", 1, 'b', NULL, NULL},
    [K_I8] = {"i8", "int8_t", 1, 'i', "INT8_MIN", "INT8_MAX"},
    [K_U8] = {"u8", "uint8_t", 1, 'u', "0", "UINT8_MAX"},
    [K_I16] = {"i16", "int16_t", 2, 'i', "INT16_MIN", "INT16_MAX"},
    [K_U16] = {"u16", "uint16_t", 2, 'u', "0", "UINT16_MAX"},
    [K_I32] = {"i32", "int32_t", 4, 'i', "INT32_MIN", "INT32_MAX"},
    [K_U32] = {"u32", "uint32_t", 4, 'u', "0", "UINT32_MAX"},
    [K_I64] = {"i64", "int64_t", 8, 'i', "INT64_MIN", "INT64_MAX"},
    [K_U64] = {"u64", "uint64_t", 8, 'u', "0", "UINT64_MAX"},
    [K_F32] = {"f32", "float", 4, 'f', NULL, NULL},
    [K_F64] = {"f64", "double", 8, 'f', NULL, NULL},
    [K_ENUM] = {"enum", "uint32_t", 4, 'e', NULL, NULL},
    [K_STRING] = {"string", "char", 1, 's', NULL, NULL},
};

/* -------------------------------------------------------- the schema ---- */

typedef struct field {
    const char *name; /* borrowed from the parsed JSON, which lives to the end */
    enum kind kind;
    int is_array;
    uint32_t max;     /* arrays: elements; strings: bytes without the NUL */
    const char **values;
    size_t n_values;
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

static void die_io(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_io(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ringhost-gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* "<file>: <message>" on stderr and exit 2: the schema is wrong. */
static void die_schema(const schema *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die_schema(const schema *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", s->file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* A JSON value as it appears in a message: compact, cut at 60 bytes. */
static const char *show(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text) {
        snprintf(buf, len, "?");
        return buf;
    }
    if (strlen(text) > 60)
        snprintf(buf, len, "%.57s...", text);
    else
        snprintf(buf, len, "%s", text);
    free(text);
    return buf;
}

/* Words C or the headers the generated code includes already own. */
static const char *const reserved[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "asm", "typeof", "bool", "true", "false",
    "NULL", "errno", "assert", "offsetof", "stdin", "stdout", "stderr", "EOF", "INFINITY", "NAN",
    "HUGE_VAL", "alignas", "alignof", "static_assert", "noreturn", "complex", "imaginary",
    "json_t", "rh_type", "linux", "unix", "i386",
};

static int is_reserved(const char *id)
{
    if (id[0] == '_' && (id[1] == '_' || (id[1] >= 'A' && id[1] <= 'Z')))
        return 1; /* reserved for the implementation */
    int lower = 0;
    for (const char *p = id; *p; p++)
        lower |= *p >= 'a' && *p <= 'z';
    if (!lower)
        return 1; /* all upper case: the headers' macros (INT8_MAX, EOF, ...) live there */
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(id, reserved[i]) == 0)
            return 1;
    return 0;
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* [A-Za-z_][A-Za-z0-9_]{0,63}, not a reserved word. */
static int is_field_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || !is_ident_start(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_ident_char(s[i]))
            return 0;
    return !is_reserved(s);
}

/* [A-Za-z0-9._-]{1,64}: the spelling of a type name and of enum values. */
static int is_dotted_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_ident_char(s[i]) && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* '.' and '-' to '_', optionally upper-cased, into out (NAME_MAX_LEN + 1). */
static void to_c_name(const char *s, char *out, int upper)
{
    size_t i = 0;
    for (; s[i] && i < NAME_MAX_LEN; i++) {
        char c = s[i] == '.' || s[i] == '-' ? '_' : s[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[i] = c;
    }
    out[i] = '\0';
}

static void check_keys(const schema *s, const json_t *obj, const char *path,
                       const char *const *known, size_t n_known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (i < n_known && strcmp(key, known[i]) != 0)
            i++;
        if (i < n_known)
            continue;
        char list[256] = "";
        for (size_t j = 0; j < n_known; j++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                     known[j]);
        die_schema(s, "%s%s%s: unknown key (expected one of %s)", path, path[0] ? "." : "", key,
                   list);
    }
}

static const char *type_list(void)
{
    static char buf[256];
    if (!buf[0]) {
        for (int k = 0; k < K_COUNT; k++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s, ", kinds[k].name);
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
                 "or an array of bool or a number type such as f32[]");
    }
    return buf;
}

/* "f32" -> K_F32, "f32[]" -> K_F32 with *is_array; -1 when unknown. */
static int parse_type(const char *t, int *is_array)
{
    size_t n = strlen(t);
    *is_array = n > 2 && strcmp(t + n - 2, "[]") == 0;
    size_t base = *is_array ? n - 2 : n;
    for (int k = 0; k < K_COUNT; k++) {
        if (strlen(kinds[k].name) == base && strncmp(t, kinds[k].name, base) == 0) {
            if (*is_array && k > K_LAST_ELEMENT)
                return -1;
            return k;
        }
    }
    return -1;
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* Every name the generated code defines at file scope or as a member must be
 * distinct; collect them here and refuse a clash with both its origins. */
typedef struct name_set {
    char (*names)[2 * NAME_MAX_LEN + 32];
    char (*origin)[64];
    size_t n, cap;
} name_set;

static void claim(const schema *s, name_set *set, const char *prefix, const char *suffix,
                  const char *origin)
{
    char name[2 * NAME_MAX_LEN + 32];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->names[i], name) == 0)
            die_schema(s, "%s: generates the C name %s, which %s also generates", origin, name,
                       set->origin[i]);
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 64;
        set->names = realloc(set->names, set->cap * sizeof *set->names);
        set->origin = realloc(set->origin, set->cap * sizeof *set->origin);
        if (!set->names || !set->origin)
            die_io("out of memory");
    }
    snprintf(set->names[set->n], sizeof set->names[0], "%s", name);
    snprintf(set->origin[set->n], sizeof set->origin[0], "%s", origin);
    set->n++;
}

static void parse_field(schema *s, const json_t *jf, size_t i, field *f)
{
    char path[32], got[96];
    snprintf(path, sizeof path, "fields[%zu]", i);
    if (!json_is_object(jf))
        die_schema(s, "%s: expected an object with name and type, got %s", path,
                   show(jf, got, sizeof got));
    static const char *const known[] = {"name", "type", "values", "max"};
    check_keys(s, jf, path, known, 4);

    const json_t *jn = json_object_get(jf, "name");
    if (!jn)
        die_schema(s, "%s.name: missing (every field needs a name)", path);
    if (!json_is_string(jn) || !is_field_name(json_string_value(jn)))
        die_schema(s,
                   "%s.name: expected a C identifier ([A-Za-z_][A-Za-z0-9_]*, at most %d "
                   "characters, with a lower-case letter, not a C keyword or reserved name), "
                   "got %s",
                   path, NAME_MAX_LEN, show(jn, got, sizeof got));
    f->name = json_string_value(jn);
    for (size_t j = 0; j < i; j++)
        if (strcmp(s->fields[j].name, f->name) == 0)
            die_schema(s, "%s.name: duplicate field name \"%s\" (fields[%zu] has it too)", path,
                       f->name, j);

    const json_t *jt = json_object_get(jf, "type");
    if (!jt)
        die_schema(s, "%s.type: missing; expected one of %s", path, type_list());
    int k = json_is_string(jt) ? parse_type(json_string_value(jt), &f->is_array) : -1;
    if (k < 0)
        die_schema(s, "%s.type: expected one of %s, got %s", path, type_list(),
                   show(jt, got, sizeof got));
    f->kind = (enum kind)k;
    const char *tname = json_string_value(jt);

    const json_t *jv = json_object_get(jf, "values");
    if (f->kind == K_ENUM) {
        if (!jv)
            die_schema(s, "%s.values: missing; an enum needs a non-empty array of value names",
                       path);
        if (!json_is_array(jv) || json_array_size(jv) == 0 ||
            json_array_size(jv) > ENUM_VALUES_MAX)
            die_schema(s, "%s.values: expected a non-empty array of at most %d names, got %s",
                       path, ENUM_VALUES_MAX, show(jv, got, sizeof got));
        f->n_values = json_array_size(jv);
        f->values = calloc(f->n_values, sizeof *f->values);
        if (!f->values)
            die_io("out of memory");
        for (size_t j = 0; j < f->n_values; j++) {
            const json_t *e = json_array_get(jv, j);
            if (!json_is_string(e) || !is_dotted_name(json_string_value(e)))
                die_schema(s,
                           "%s.values[%zu]: expected a name ([A-Za-z0-9._-], 1 to %d "
                           "characters), got %s",
                           path, j, NAME_MAX_LEN, show(e, got, sizeof got));
            f->values[j] = json_string_value(e);
            for (size_t m = 0; m < j; m++)
                if (strcmp(f->values[m], f->values[j]) == 0)
                    die_schema(s, "%s.values[%zu]: duplicate value \"%s\" (values[%zu] has it too)",
                               path, j, f->values[j], m);
        }
    } else if (jv) {
        die_schema(s, "%s.values: only an enum has values, and this field is %s", path, tname);
    }

    const json_t *jm = json_object_get(jf, "max");
    if (f->kind == K_STRING || f->is_array) {
        const char *unit = f->is_array ? "elements" : "bytes";
        if (!jm)
            die_schema(s, "%s.max: missing; type %s needs the most %s it holds (1..%u)", path, tname,
                       unit, ELEMS_MAX);
        if (!json_is_integer(jm) || json_integer_value(jm) < 1 ||
            json_integer_value(jm) > (json_int_t)ELEMS_MAX)
            die_schema(s, "%s.max: expected an integer in 1..%u (%s), got %s", path, ELEMS_MAX,
                       unit, show(jm, got, sizeof got));
        f->max = (uint32_t)json_integer_value(jm);
    } else if (jm) {
        die_schema(s, "%s.max: only a string or an array has a max, and this field is %s", path,
                   tname);
    }
}

static void parse_schema(schema *s, const json_t *root)
{
    char got[96];
    if (!json_is_object(root))
        die_schema(s, "expected an object with name and fields, got %s",
                   show(root, got, sizeof got));
    static const char *const known[] = {"name", "fields"};
    check_keys(s, root, "", known, 2);

    const json_t *jn = json_object_get(root, "name");
    if (!jn)
        die_schema(s, "name: missing (the message type name, e.g. \"vector_add.request\")");
    if (!json_is_string(jn) || !is_dotted_name(json_string_value(jn)) ||
        !is_ident_start(json_string_value(jn)[0]))
        die_schema(s,
                   "name: expected a type name ([A-Za-z0-9._-], 1 to %d characters, starting "
                   "with a letter or '_'), got %s",
                   NAME_MAX_LEN, show(jn, got, sizeof got));
    s->name = json_string_value(jn);
    to_c_name(s->name, s->cname, 0);
    to_c_name(s->name, s->upper, 1);
    if (is_reserved(s->cname))
        die_schema(s, "name: \"%s\" makes the C name %s, which is reserved", s->name, s->cname);

    const json_t *jf = json_object_get(root, "fields");
    if (!jf)
        die_schema(s, "fields: missing (an array of {\"name\", \"type\"} objects)");
    if (!json_is_array(jf) || json_array_size(jf) == 0 || json_array_size(jf) > FIELDS_MAX)
        die_schema(s, "fields: expected a non-empty array of at most %d field objects, got %s",
                   FIELDS_MAX, show(jf, got, sizeof got));
    s->n_fields = json_array_size(jf);
    s->fields = calloc(s->n_fields, sizeof *s->fields);
    if (!s->fields)
        die_io("out of memory");
    for (size_t i = 0; i < s->n_fields; i++)
        parse_field(s, json_array_get(jf, i), i, &s->fields[i]);

    /* Every generated name must be distinct: members (a field and another's
     * <name>_len) and macros (enum constants, _MAX, _COUNT). */
    name_set members = {0}, macros = {0}, globals = {0};
    char up_[NAME_MAX_LEN + 2], c_[NAME_MAX_LEN + 2];
    snprintf(up_, sizeof up_, "%s_", s->upper);
    snprintf(c_, sizeof c_, "%s_", s->cname);
    char name[2 * NAME_MAX_LEN + 32], origin[64], up[NAME_MAX_LEN + 1];
    claim(s, &macros, up_, "FINGERPRINT", "the type");
    claim(s, &macros, up_, "NAME", "the type");
    /* <cname>_<suffix>: the descriptor, the functions, and one typedef per enum */
    claim(s, &globals, c_, "type", "the type descriptor");
    claim(s, &globals, c_, "validate", "the type's validate()");
    claim(s, &globals, c_, "decode", "the type's decode()");
    claim(s, &globals, c_, "encode", "the type's encode()");
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        snprintf(origin, sizeof origin, "fields[%zu].name", i);
        claim(s, &members, "", f->name, origin);
        if (f->is_array) {
            snprintf(name, sizeof name, "%s_len", f->name);
            claim(s, &members, "", name, origin);
        }
        to_c_name(f->name, up, 1);
        if (f->is_array || f->kind == K_STRING) {
            snprintf(name, sizeof name, "%s_MAX", up);
            claim(s, &macros, up_, name, origin);
        }
        if (f->kind == K_ENUM) {
            claim(s, &globals, c_, f->name, origin);
            snprintf(name, sizeof name, "%s_COUNT", up);
            claim(s, &macros, up_, name, origin);
            for (size_t j = 0; j < f->n_values; j++) {
                char vup[NAME_MAX_LEN + 1];
                to_c_name(f->values[j], vup, 1);
                snprintf(name, sizeof name, "%s_%s", up, vup);
                snprintf(origin, sizeof origin, "fields[%zu].values[%zu]", i, j);
                claim(s, &macros, up_, name, origin);
            }
        }
    }
    free(members.names);
    free(members.origin);
    free(macros.names);
    free(macros.origin);
    free(globals.names);
    free(globals.origin);

    /* Natural alignment, in schema order; the header's static asserts check
     * that the compiler lays the struct out the same way. */
    size_t off = 0, align = 1;
    for (size_t i = 0; i < s->n_fields; i++) {
        field *f = &s->fields[i];
        size_t el = kinds[f->kind].size;
        if (f->is_array) {
            off = round_up(off, 4);
            f->len_offset = off;
            off += 4;
            align = align < 4 ? 4 : align;
            off = round_up(off, el);
            f->offset = off;
            off += el * f->max;
        } else if (f->kind == K_STRING) {
            f->offset = off;
            off += (size_t)f->max + 1;
        } else {
            off = round_up(off, el);
            f->offset = off;
            off += el;
        }
        align = align < el ? el : align;
        if (off > MESSAGE_BYTES_MAX)
            die_schema(s, "fields[%zu]: the message grows past %u bytes; lower the max values",
                       i, MESSAGE_BYTES_MAX);
    }
    s->align = align;
    s->size = round_up(off, align);

    s->canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s->canonical)
        die_io("out of memory");
    s->fingerprint = fnv1a64(s->canonical);
    if (s->fingerprint == 0)
        s->fingerprint = 1; /* 0 means "no fingerprint" to the host */
}

/* ------------------------------------------------------ text output ---- */

typedef struct sb {
    char *p;
    size_t len, cap;
} sb;

static void out(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(sb *b, const char *fmt, ...)
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
static void out_c_string(sb *b, const char *s)
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

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* ----------------------------------------------------------- header ---- */

static void gen_header(sb *b, const schema *s)
{
    const char *c = s->cname, *u = s->upper;
    out(b, "/*\n * %s.h: the message type \"%s\".\n", c, s->name);
    out(b, " * Generated by ringhost-gen from %s; do not edit, edit the schema.\n */\n",
        base_name(s->file));
    out(b, "#ifndef RH_GEN_%s_H\n#define RH_GEN_%s_H\n\n", u, u);
    out(b, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    out(b, "#include \"ringhost/kernel.h\"\n\n");
    out(b, "#ifdef __cplusplus\nextern \"C\" {\n#define RH_GEN_%s_ASSERT static_assert\n"
           "#define RH_GEN_%s_ALIGNOF alignof\n#else\n#define RH_GEN_%s_ASSERT _Static_assert\n"
           "#define RH_GEN_%s_ALIGNOF _Alignof\n#endif\n\n",
        u, u, u, u);
    out(b, "#define %s_NAME \"%s\"\n", u, s->name);
    out(b, "#define %s_FINGERPRINT UINT64_C(0x%016" PRIx64 ")\n", u, s->fingerprint);

    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        char fu[NAME_MAX_LEN + 1];
        to_c_name(f->name, fu, 1);
        if (f->is_array)
            out(b, "#define %s_%s_MAX %" PRIu32 " /* elements of %s[] */\n", u, fu, f->max,
                f->name);
        else if (f->kind == K_STRING)
            out(b, "#define %s_%s_MAX %" PRIu32 " /* bytes of %s, without its NUL */\n", u, fu,
                f->max, f->name);
    }
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        if (f->kind != K_ENUM)
            continue;
        char fu[NAME_MAX_LEN + 1];
        to_c_name(f->name, fu, 1);
        out(b, "\n/* Values of %s.%s (stored as a uint32_t). */\ntypedef enum %s_%s {\n", s->name,
            f->name, c, f->name);
        for (size_t j = 0; j < f->n_values; j++) {
            char vu[NAME_MAX_LEN + 1];
            to_c_name(f->values[j], vu, 1);
            out(b, "    %s_%s_%s = %zu, /* \"%s\" */\n", u, fu, vu, j, f->values[j]);
        }
        out(b, "} %s_%s;\n#define %s_%s_COUNT %zu\n", c, f->name, u, fu, f->n_values);
    }

    out(b, "\n/* The payload: fixed capacity, %zu bytes, align %zu. */\ntypedef struct %s {\n",
        s->size, s->align, c);
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        const struct kind_info *k = &kinds[f->kind];
        char fu[NAME_MAX_LEN + 1];
        to_c_name(f->name, fu, 1);
        if (f->is_array) {
            out(b, "    uint32_t %s_len; /* elements used in %s, 0..%s_%s_MAX */\n", f->name,
                f->name, u, fu);
            out(b, "    %s %s[%" PRIu32 "];\n", k->ctype, f->name, f->max);
        } else if (f->kind == K_STRING) {
            out(b, "    char %s[%" PRIu32 " + 1]; /* UTF-8, NUL-terminated */\n", f->name, f->max);
        } else if (f->kind == K_ENUM) {
            out(b, "    uint32_t %s; /* %s_%s */\n", f->name, c, f->name);
        } else {
            out(b, "    %s %s;\n", k->ctype, f->name);
        }
    }
    out(b, "} %s;\n\n", c);

    out(b, "/* The layout ringhost-gen computed (and hashed into the fingerprint's meaning):\n"
           " * a compiler that lays the struct out differently cannot build this. */\n");
    out(b, "RH_GEN_%s_ASSERT(sizeof(%s) == %zu, \"%s: size\");\n", u, c, s->size, s->name);
    out(b, "RH_GEN_%s_ASSERT(RH_GEN_%s_ALIGNOF(%s) == %zu, \"%s: alignment\");\n", u, u, c,
        s->align, s->name);
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        if (f->is_array)
            out(b, "RH_GEN_%s_ASSERT(offsetof(%s, %s_len) == %zu, \"%s: offset of %s_len\");\n",
                u, c, f->name, f->len_offset, s->name, f->name);
        out(b, "RH_GEN_%s_ASSERT(offsetof(%s, %s) == %zu, \"%s: offset of %s\");\n", u, c,
            f->name, f->offset, s->name, f->name);
    }

    out(b, "\n/* The type descriptor to put in an rh_port. */\nextern const rh_type %s_type;\n\n",
        c);
    out(b, "/* 0 when *msg is well formed (array lengths within max, enum values known,\n"
           " * strings NUL-terminated UTF-8, bools 0 or 1); otherwise -1 and the reason,\n"
           " * naming the field, in why (why_len bytes, may be 0). */\n");
    out(b, "int %s_validate(const void *msg, char *why, size_t why_len);\n\n", c);
    out(b, "/* Fill *msg (a %s) from a JSON object: zeroed first, missing fields\n"
           " * stay zero/empty.  0, or -1 with the reason and the field path in why\n"
           " * (\"a[3]: expected a number, got \\\"x\\\"\"); *msg is zeroed then. */\n",
        c);
    out(b, "int %s_decode(const struct json_t *json, void *msg, char *why, size_t why_len);\n\n", c);
    out(b, "/* A new JSON object for *msg (the caller owns the reference), NULL when out\n"
           " * of memory.  Safe on an invalid message: lengths are clamped to max. */\n");
    out(b, "struct json_t *%s_encode(const void *msg);\n\n", c);
    out(b, "#ifdef __cplusplus\n}\n#endif\n#endif /* RH_GEN_%s_H */\n", u);
}

/* ------------------------------------------------------------ codec ---- */

typedef struct needs {
    int int_, uint_, real, boolean, enum_, string, array, u64;
} needs;

static needs what_is_needed(const schema *s)
{
    needs n = {0};
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        switch (kinds[f->kind].cls) {
        case 'i': n.int_ = 1; break;
        case 'u': n.uint_ = 1; break;
        case 'f': n.real = 1; break;
        case 'b': n.boolean = 1; break;
        case 'e': n.enum_ = 1; break;
        case 's': n.string = 1; break;
        }
        if (f->kind == K_U64)
            n.u64 = 1;
        if (f->is_array)
            n.array = 1;
    }
    return n;
}

/* The static helpers a codec uses; only those this type needs are emitted so
 * the file compiles without unused-function warnings. */
static void gen_helpers(sb *b, const needs *n)
{
    out(b, "/* Write the reason into why (if any room); always -1. */\n"
           "static int rhg_fail(char *why, size_t why_len, const char *fmt, ...)\n"
           "    __attribute__((format(printf, 3, 4)));\n"
           "static int rhg_fail(char *why, size_t why_len, const char *fmt, ...)\n"
           "{\n"
           "    if (why && why_len) {\n"
           "        va_list ap;\n"
           "        va_start(ap, fmt);\n"
           "        vsnprintf(why, why_len, fmt, ap);\n"
           "        va_end(ap);\n"
           "    }\n"
           "    return -1;\n"
           "}\n\n");
    out(b, "/* A JSON value as an error message shows it: compact JSON when short,\n"
           " * else what kind of value it is. */\n"
           "static const char *rhg_show(const json_t *v, char *buf, size_t len)\n"
           "{\n"
           "    if (json_is_object(v))\n"
           "        return \"an object\";\n"
           "    if (json_is_array(v)) {\n"
           "        snprintf(buf, len, \"an array of %%zu elements\", json_array_size(v));\n"
           "        return buf;\n"
           "    }\n"
           "    size_t n = json_dumpb(v, buf, len - 1, JSON_ENCODE_ANY | JSON_COMPACT);\n"
           "    if (n == 0 || n > len - 1) {\n"
           "        if (json_is_string(v))\n"
           "            snprintf(buf, len, \"a string of %%zu bytes\", json_string_length(v));\n"
           "        else\n"
           "            snprintf(buf, len, \"a value\");\n"
           "        return buf;\n"
           "    }\n"
           "    buf[n] = '\\0';\n"
           "    return buf;\n"
           "}\n\n");
    out(b, "/* \"path: expected WHAT, got VALUE\" (path[idx] when idx >= 0); -1. */\n"
           "static int rhg_expected(char *why, size_t why_len, const char *path, long long idx,\n"
           "                        const char *what, const json_t *v)\n"
           "{\n"
           "    char shown[64];\n"
           "    if (idx < 0)\n"
           "        return rhg_fail(why, why_len, \"%%s: expected %%s, got %%s\", path, what,\n"
           "                        rhg_show(v, shown, sizeof shown));\n"
           "    return rhg_fail(why, why_len, \"%%s[%%lld]: expected %%s, got %%s\", path, idx, "
           "what,\n"
           "                    rhg_show(v, shown, sizeof shown));\n"
           "}\n\n");
    if (n->array)
        out(b, "static int rhg_get_array(const json_t *v, const char *path, size_t max, size_t *n,\n"
               "                         char *why, size_t why_len)\n"
               "{\n"
               "    if (!json_is_array(v))\n"
               "        return rhg_expected(why, why_len, path, -1, \"an array\", v);\n"
               "    *n = json_array_size(v);\n"
               "    if (*n > max)\n"
               "        return rhg_fail(why, why_len, \"%%s: expected at most %%zu elements, got "
               "%%zu\",\n"
               "                        path, max, *n);\n"
               "    return 0;\n"
               "}\n\n");
    if (n->int_)
        out(b, "static int rhg_get_int(const json_t *v, const char *path, long long idx, int64_t lo,\n"
               "                       int64_t hi, int64_t *out, char *why, size_t why_len)\n"
               "{\n"
               "    if (json_is_integer(v) && json_integer_value(v) >= lo &&\n"
               "        json_integer_value(v) <= hi) {\n"
               "        *out = (int64_t)json_integer_value(v);\n"
               "        return 0;\n"
               "    }\n"
               "    char what[80];\n"
               "    snprintf(what, sizeof what, \"an integer in %%\" PRId64 \"..%%\" PRId64, lo, "
               "hi);\n"
               "    return rhg_expected(why, why_len, path, idx, what, v);\n"
               "}\n\n");
    if (n->uint_)
        out(b, "/* u64 values above INT64_MAX do not fit a jansson integer: they travel as\n"
               " * strings of decimal digits. */\n"
               "static int rhg_get_uint(const json_t *v, const char *path, long long idx, uint64_t "
               "hi,\n"
               "                        uint64_t *out, char *why, size_t why_len)\n"
               "{\n"
               "    if (json_is_integer(v) && json_integer_value(v) >= 0 &&\n"
               "        (uint64_t)json_integer_value(v) <= hi) {\n"
               "        *out = (uint64_t)json_integer_value(v);\n"
               "        return 0;\n"
               "    }\n"
               "    if (json_is_string(v) && hi > (uint64_t)INT64_MAX) {\n"
               "        const char *s = json_string_value(v);\n"
               "        size_t len = json_string_length(v);\n"
               "        uint64_t x = 0;\n"
               "        size_t i = 0;\n"
               "        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {\n"
               "            unsigned d = (unsigned)(s[i] - '0');\n"
               "            if (x > (UINT64_MAX - d) / 10)\n"
               "                break;\n"
               "            x = x * 10 + d;\n"
               "        }\n"
               "        if (len > 0 && i == len) {\n"
               "            *out = x;\n"
               "            return 0;\n"
               "        }\n"
               "    }\n"
               "    char what[80];\n"
               "    snprintf(what, sizeof what, \"an integer in 0..%%\" PRIu64, hi);\n"
               "    return rhg_expected(why, why_len, path, idx, what, v);\n"
               "}\n\n");
    if (n->real)
        out(b, "/* A JSON number, or \"inf\", \"-inf\", \"nan\": how encode writes the values JSON\n"
               " * cannot spell.  For f32, finite values must fit a float. */\n"
               "static int rhg_get_real(const json_t *v, const char *path, long long idx, int "
               "is_f32,\n"
               "                        double *out, char *why, size_t why_len)\n"
               "{\n"
               "    double x;\n"
               "    if (json_is_number(v))\n"
               "        x = json_number_value(v);\n"
               "    else if (json_is_string(v) && strcmp(json_string_value(v), \"inf\") == 0)\n"
               "        x = INFINITY;\n"
               "    else if (json_is_string(v) && strcmp(json_string_value(v), \"-inf\") == 0)\n"
               "        x = -INFINITY;\n"
               "    else if (json_is_string(v) && strcmp(json_string_value(v), \"nan\") == 0)\n"
               "        x = NAN;\n"
               "    else\n"
               "        return rhg_expected(why, why_len, path, idx, \"a number\", v);\n"
               "    if (is_f32 && isfinite(x) && (x > FLT_MAX || x < -FLT_MAX))\n"
               "        return rhg_expected(why, why_len, path, idx, \"a number in the f32 "
               "range\", v);\n"
               "    *out = x;\n"
               "    return 0;\n"
               "}\n\n"
               "static json_t *rhg_real(double x)\n"
               "{\n"
               "    if (isnan(x))\n"
               "        return json_string(\"nan\");\n"
               "    if (isinf(x))\n"
               "        return json_string(x > 0 ? \"inf\" : \"-inf\");\n"
               "    return json_real(x);\n"
               "}\n\n");
    if (n->u64)
        out(b, "static json_t *rhg_u64(uint64_t x)\n"
               "{\n"
               "    if (x <= (uint64_t)INT64_MAX)\n"
               "        return json_integer((json_int_t)x);\n"
               "    char text[24];\n"
               "    snprintf(text, sizeof text, \"%%\" PRIu64, x);\n"
               "    return json_string(text);\n"
               "}\n\n");
    if (n->boolean)
        out(b, "static int rhg_get_bool(const json_t *v, const char *path, long long idx, bool *out,\n"
               "                        char *why, size_t why_len)\n"
               "{\n"
               "    if (!json_is_boolean(v))\n"
               "        return rhg_expected(why, why_len, path, idx, \"true or false\", v);\n"
               "    *out = json_is_true(v);\n"
               "    return 0;\n"
               "}\n\n"
               "/* The byte of a bool, read without trusting it to be 0 or 1 (a payload\n"
               " * from another process may hold anything). */\n"
               "static unsigned rhg_bool_byte(const bool *p)\n"
               "{\n"
               "    unsigned char raw;\n"
               "    memcpy(&raw, p, 1);\n"
               "    return raw;\n"
               "}\n\n"
               "static int rhg_check_bool(const bool *p, const char *path, long long idx, char *why,\n"
               "                          size_t why_len)\n"
               "{\n"
               "    unsigned raw = rhg_bool_byte(p);\n"
               "    if (raw <= 1)\n"
               "        return 0;\n"
               "    if (idx < 0)\n"
               "        return rhg_fail(why, why_len, \"%%s: expected a bool of 0 or 1, got %%u\", "
               "path, raw);\n"
               "    return rhg_fail(why, why_len, \"%%s[%%lld]: expected a bool of 0 or 1, got "
               "%%u\", path,\n"
               "                    idx, raw);\n"
               "}\n\n");
    if (n->enum_)
        out(b, "static int rhg_get_enum(const json_t *v, const char *path, const char *const *names,\n"
               "                        uint32_t count, uint32_t *out, char *why, size_t why_len)\n"
               "{\n"
               "    if (json_is_string(v))\n"
               "        for (uint32_t i = 0; i < count; i++)\n"
               "            if (strcmp(json_string_value(v), names[i]) == 0) {\n"
               "                *out = i;\n"
               "                return 0;\n"
               "            }\n"
               "    char what[256] = \"one of \";\n"
               "    for (uint32_t i = 0; i < count; i++) {\n"
               "        size_t used = strlen(what);\n"
               "        if (used + strlen(names[i]) + 8 >= sizeof what) {\n"
               "            snprintf(what + used, sizeof what - used, \"...\");\n"
               "            break;\n"
               "        }\n"
               "        snprintf(what + used, sizeof what - used, \"%%s\\\"%%s\\\"\", i ? \", \" : "
               "\"\", names[i]);\n"
               "    }\n"
               "    return rhg_expected(why, why_len, path, -1, what, v);\n"
               "}\n\n"
               "/* An out-of-range value (an invalid message) is shown as its number. */\n"
               "static json_t *rhg_enum(uint32_t x, const char *const *names, uint32_t count)\n"
               "{\n"
               "    return x < count ? json_string(names[x]) : json_integer(x);\n"
               "}\n\n");
    if (n->string)
        out(b, "static int rhg_get_string(const json_t *v, const char *path, char *dst, size_t max,\n"
               "                          char *why, size_t why_len)\n"
               "{\n"
               "    if (!json_is_string(v))\n"
               "        return rhg_expected(why, why_len, path, -1, \"a string\", v);\n"
               "    size_t len = json_string_length(v);\n"
               "    const char *s = json_string_value(v);\n"
               "    if (len > max)\n"
               "        return rhg_fail(why, why_len, \"%%s: expected at most %%zu bytes, got %%zu\", "
               "path, max,\n"
               "                        len);\n"
               "    if (memchr(s, '\\0', len))\n"
               "        return rhg_fail(why, why_len, \"%%s: expected a string without NUL "
               "characters\", path);\n"
               "    memcpy(dst, s, len);\n"
               "    dst[len] = '\\0';\n"
               "    return 0;\n"
               "}\n\n"
               "/* Bytes of the well-formed UTF-8 sequence at s (n bytes left), 0 if none:\n"
               " * no overlong forms, no surrogates, nothing past U+10FFFF. */\n"
               "static size_t rhg_utf8_seq(const unsigned char *s, size_t n)\n"
               "{\n"
               "    unsigned c = s[0];\n"
               "    size_t len;\n"
               "    uint32_t cp, min;\n"
               "    if (c < 0x80)\n"
               "        return 1;\n"
               "    if ((c & 0xE0) == 0xC0) {\n"
               "        len = 2, cp = c & 0x1F, min = 0x80;\n"
               "    } else if ((c & 0xF0) == 0xE0) {\n"
               "        len = 3, cp = c & 0x0F, min = 0x800;\n"
               "    } else if ((c & 0xF8) == 0xF0) {\n"
               "        len = 4, cp = c & 0x07, min = 0x10000;\n"
               "    } else {\n"
               "        return 0;\n"
               "    }\n"
               "    if (len > n)\n"
               "        return 0;\n"
               "    for (size_t i = 1; i < len; i++) {\n"
               "        if ((s[i] & 0xC0) != 0x80)\n"
               "            return 0;\n"
               "        cp = (cp << 6) | (s[i] & 0x3F);\n"
               "    }\n"
               "    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))\n"
               "        return 0;\n"
               "    return len;\n"
               "}\n\n"
               "static int rhg_check_string(const char *s, size_t cap, const char *path, char *why,\n"
               "                            size_t why_len)\n"
               "{\n"
               "    const char *end = memchr(s, '\\0', cap);\n"
               "    if (!end)\n"
               "        return rhg_fail(why, why_len, \"%%s: expected a NUL within its %%zu bytes\", "
               "path, cap);\n"
               "    size_t n = (size_t)(end - s);\n"
               "    for (size_t i = 0; i < n;) {\n"
               "        size_t k = rhg_utf8_seq((const unsigned char *)s + i, n - i);\n"
               "        if (!k)\n"
               "            return rhg_fail(why, why_len, \"%%s: expected UTF-8, got an invalid "
               "byte at %%zu\",\n"
               "                            path, i);\n"
               "        i += k;\n"
               "    }\n"
               "    return 0;\n"
               "}\n\n"
               "/* The string up to its NUL (or cap bytes); bytes that are not UTF-8 (an\n"
               " * invalid message) become '?' so the result is still JSON. */\n"
               "static json_t *rhg_string(const char *s, size_t cap)\n"
               "{\n"
               "    size_t n = strnlen(s, cap);\n"
               "    char *copy = malloc(n + 1);\n"
               "    if (!copy)\n"
               "        return NULL;\n"
               "    for (size_t i = 0; i < n;) {\n"
               "        size_t k = rhg_utf8_seq((const unsigned char *)s + i, n - i);\n"
               "        if (k) {\n"
               "            memcpy(copy + i, s + i, k);\n"
               "            i += k;\n"
               "        } else {\n"
               "            copy[i++] = '?';\n"
               "        }\n"
               "    }\n"
               "    json_t *j = json_stringn(copy, n);\n"
               "    free(copy);\n"
               "    return j;\n"
               "}\n\n");
}

/* The C expression that encodes one element `x` of field f. */
static void out_encode_value(sb *b, const field *f, const char *x, const char *names)
{
    switch (kinds[f->kind].cls) {
    case 'b': out(b, "json_boolean(rhg_bool_byte(&%s))", x); break;
    case 'f': out(b, "rhg_real(%s)", x); break;
    case 'e': out(b, "rhg_enum(%s, %s, %zu)", x, names, f->n_values); break;
    case 's': out(b, "rhg_string(%s, sizeof %s)", x, x); break;
    default:
        if (f->kind == K_U64)
            out(b, "rhg_u64(%s)", x);
        else
            out(b, "json_integer((json_int_t)%s)", x);
    }
}

/* Decode JSON value `v` (element idx, or -1) into lvalue `dst` of field f. */
static void out_decode_value(sb *b, const field *f, const char *v, const char *idx,
                             const char *dst, const char *names, const char *ind)
{
    const struct kind_info *k = &kinds[f->kind];
    switch (k->cls) {
    case 'b':
        out(b, "%sbool x = false;\n%sif (rhg_get_bool(%s, \"%s\", %s, &x, why, why_len) != 0)\n"
               "%s    return -1;\n%s%s = x;\n",
            ind, ind, v, f->name, idx, ind, ind, dst);
        break;
    case 'i':
        out(b, "%sint64_t x = 0;\n%sif (rhg_get_int(%s, \"%s\", %s, %s, %s, &x, why, why_len) != 0)\n"
               "%s    return -1;\n%s%s = (%s)x;\n",
            ind, ind, v, f->name, idx, k->lo, k->hi, ind, ind, dst, k->ctype);
        break;
    case 'u':
        out(b, "%suint64_t x = 0;\n%sif (rhg_get_uint(%s, \"%s\", %s, %s, &x, why, why_len) != 0)\n"
               "%s    return -1;\n%s%s = (%s)x;\n",
            ind, ind, v, f->name, idx, k->hi, ind, ind, dst, k->ctype);
        break;
    case 'f':
        out(b, "%sdouble x = 0;\n%sif (rhg_get_real(%s, \"%s\", %s, %d, &x, why, why_len) != 0)\n"
               "%s    return -1;\n%s%s = (%s)x;\n",
            ind, ind, v, f->name, idx, f->kind == K_F32, ind, ind, dst, k->ctype);
        break;
    case 'e':
        out(b, "%sif (rhg_get_enum(%s, \"%s\", %s, %zu, &%s, why, why_len) != 0)\n%s    return -1;\n",
            ind, v, f->name, names, f->n_values, dst, ind);
        break;
    case 's':
        out(b, "%sif (rhg_get_string(%s, \"%s\", %s, %" PRIu32 ", why, why_len) != 0)\n"
               "%s    return -1;\n",
            ind, v, f->name, dst, f->max, ind);
        break;
    }
}

static void gen_codec(sb *b, const schema *s)
{
    const char *c = s->cname, *u = s->upper;
    needs n = what_is_needed(s);

    out(b, "/*\n * %s.c: validate, decode, encode and the descriptor of \"%s\".\n", c, s->name);
    out(b, " * Generated by ringhost-gen from %s; do not edit, edit the schema.\n */\n",
        base_name(s->file));
    out(b, "#include \"%s.h\"\n\n", c);
    out(b, "#include <float.h>\n#include <inttypes.h>\n#include <math.h>\n#include <stdarg.h>\n"
           "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n#include <jansson.h>\n\n");
    out(b, "/* The canonical schema: FNV-1a 64 of this text is the fingerprint. */\n");
    out(b, "static const char rhg_schema[] =\n");
    out_c_string(b, s->canonical);
    out(b, ";\n\n");
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        if (f->kind != K_ENUM)
            continue;
        out(b, "static const char *const rhg_%s_names[%zu] = {", f->name, f->n_values);
        for (size_t j = 0; j < f->n_values; j++)
            out(b, "%s\"%s\"", j ? ", " : "", f->values[j]);
        out(b, "};\n");
    }
    out(b, "static const char *const rhg_fields[%zu] = {", s->n_fields);
    for (size_t i = 0; i < s->n_fields; i++)
        out(b, "%s%s\"%s\"", i ? "," : "", i % 8 == 7 ? "\n    " : i ? " " : "", s->fields[i].name);
    out(b, "};\n\n");
    gen_helpers(b, &n);
    out(b, "/* \"key: unknown field (%s has a, b, ...)\"; -1. */\n"
           "static int rhg_unknown_field(char *why, size_t why_len, const char *key)\n"
           "{\n"
           "    if (!why || !why_len)\n"
           "        return -1;\n"
           "    snprintf(why, why_len, \"%%s: unknown field (%s has \", key);\n"
           "    for (size_t i = 0; i < %zu; i++) {\n"
           "        size_t used = strlen(why);\n"
           "        snprintf(why + used, why_len - used, \"%%s%%s\", i ? \", \" : \"\", rhg_fields[i]);\n"
           "    }\n"
           "    size_t used = strlen(why);\n"
           "    snprintf(why + used, why_len - used, \")\");\n"
           "    return -1;\n"
           "}\n\n",
        s->name, s->name, s->n_fields);

    /* validate */
    out(b, "int %s_validate(const void *msg, char *why, size_t why_len)\n{\n", c);
    out(b, "    const %s *m = msg;\n    (void)m;\n    (void)why;\n    (void)why_len;\n", c);
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        char fu[NAME_MAX_LEN + 1];
        to_c_name(f->name, fu, 1);
        if (f->is_array) {
            out(b, "    if (m->%s_len > %s_%s_MAX)\n"
                   "        return rhg_fail(why, why_len,\n"
                   "                        \"%s: expected at most %" PRIu32 " elements, got "
                   "%%\" PRIu32, m->%s_len);\n",
                f->name, u, fu, f->name, f->max, f->name);
            if (f->kind == K_BOOL)
                out(b, "    for (uint32_t i = 0; i < m->%s_len; i++)\n"
                       "        if (rhg_check_bool(&m->%s[i], \"%s\", i, why, why_len) != 0)\n"
                       "            return -1;\n",
                    f->name, f->name, f->name);
        } else if (f->kind == K_ENUM) {
            out(b, "    if (m->%s >= %s_%s_COUNT)\n"
                   "        return rhg_fail(why, why_len, \"%s: expected an enum value in 0..%zu, "
                   "got %%\" PRIu32,\n"
                   "                        m->%s);\n",
                f->name, u, fu, f->name, f->n_values - 1, f->name);
        } else if (f->kind == K_STRING) {
            out(b, "    if (rhg_check_string(m->%s, sizeof m->%s, \"%s\", why, why_len) != 0)\n"
                   "        return -1;\n",
                f->name, f->name, f->name);
        } else if (f->kind == K_BOOL) {
            out(b, "    if (rhg_check_bool(&m->%s, \"%s\", -1, why, why_len) != 0)\n"
                   "        return -1;\n",
                f->name, f->name);
        }
    }
    out(b, "    return 0;\n}\n\n");

    /* decode */
    out(b, "static int rhg_decode_fields(const json_t *json, %s *m, char *why, size_t why_len)\n{\n",
        c);
    out(b, "    if (!json_is_object(json))\n"
           "        return rhg_expected(why, why_len, \"%s\", -1, \"a JSON object\", json);\n",
        s->name);
    out(b, "    /* Unknown keys are errors: a misspelt field must not read as zero. */\n"
           "    json_t *obj = (json_t *)json; /* jansson's iterators take non-const */\n"
           "    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {\n"
           "        const char *key = json_object_iter_key(it);\n"
           "        size_t i = 0;\n"
           "        while (i < %zu && strcmp(key, rhg_fields[i]) != 0)\n"
           "            i++;\n"
           "        if (i == %zu)\n"
           "            return rhg_unknown_field(why, why_len, key);\n"
           "    }\n"
           "    const json_t *v;\n",
        s->n_fields, s->n_fields);

    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        char names[NAME_MAX_LEN + 16], dst[NAME_MAX_LEN + 16];
        snprintf(names, sizeof names, "rhg_%s_names", f->name);
        out(b, "    if ((v = json_object_get(json, \"%s\")) != NULL) {\n", f->name);
        if (f->is_array) {
            snprintf(dst, sizeof dst, "m->%s[i]", f->name);
            out(b, "        size_t n = 0;\n"
                   "        if (rhg_get_array(v, \"%s\", %" PRIu32 ", &n, why, why_len) != 0)\n"
                   "            return -1;\n"
                   "        for (size_t i = 0; i < n; i++) {\n",
                f->name, f->max);
            out_decode_value(b, f, "json_array_get(v, i)", "(long long)i", dst, names,
                             "            ");
            out(b, "        }\n        m->%s_len = (uint32_t)n;\n", f->name);
        } else {
            snprintf(dst, sizeof dst, "m->%s", f->name);
            out_decode_value(b, f, "v", "-1", dst, names, "        ");
        }
        out(b, "    }\n");
    }
    out(b, "    return 0;\n}\n\n");
    out(b, "int %s_decode(const struct json_t *json, void *msg, char *why, size_t why_len)\n{\n"
           "    memset(msg, 0, sizeof(%s));\n"
           "    if (rhg_decode_fields(json, msg, why, why_len) != 0) {\n"
           "        memset(msg, 0, sizeof(%s));\n"
           "        return -1;\n"
           "    }\n"
           "    return 0;\n}\n\n",
        c, c, c);

    /* encode */
    out(b, "struct json_t *%s_encode(const void *msg)\n{\n    const %s *m = msg;\n"
           "    json_t *o = json_object();\n    if (!o)\n        return NULL;\n",
        c, c);
    for (size_t i = 0; i < s->n_fields; i++) {
        const field *f = &s->fields[i];
        char names[NAME_MAX_LEN + 16], x[NAME_MAX_LEN + 16], fu[NAME_MAX_LEN + 1];
        snprintf(names, sizeof names, "rhg_%s_names", f->name);
        to_c_name(f->name, fu, 1);
        if (f->is_array) {
            snprintf(x, sizeof x, "m->%s[i]", f->name);
            out(b, "    {\n"
                   "        uint32_t n = m->%s_len < %s_%s_MAX ? m->%s_len : %s_%s_MAX;\n"
                   "        json_t *arr = json_array();\n"
                   "        if (json_object_set_new(o, \"%s\", arr) != 0)\n"
                   "            goto fail;\n"
                   "        for (uint32_t i = 0; i < n; i++)\n"
                   "            if (json_array_append_new(arr, ",
                f->name, u, fu, f->name, u, fu, f->name);
            out_encode_value(b, f, x, names);
            out(b, ") != 0)\n                goto fail;\n    }\n");
        } else {
            snprintf(x, sizeof x, "m->%s", f->name);
            out(b, "    if (json_object_set_new(o, \"%s\", ", f->name);
            out_encode_value(b, f, x, names);
            out(b, ") != 0)\n        goto fail;\n");
        }
    }
    out(b, "    return o;\nfail:\n    json_decref(o);\n    return NULL;\n}\n\n");

    out(b, "const rh_type %s_type = {\n"
           "    .struct_size = sizeof(rh_type),\n"
           "    .name = %s_NAME,\n"
           "    .fingerprint = %s_FINGERPRINT,\n"
           "    .size = sizeof(%s),\n"
           "    .align = _Alignof(%s),\n"
           "    .schema = rhg_schema,\n"
           "    .validate = %s_validate,\n"
           "    .decode = %s_decode,\n"
           "    .encode = %s_encode,\n"
           "};\n",
        c, u, u, c, c, c, c, c);
}

/* ------------------------------------------------------------- main ---- */

static void usage(FILE *to)
{
    fputs("usage: ringhost-gen SCHEMA.json --out-dir DIR\n"
          "Writes DIR/<cname>.h and DIR/<cname>.c for the message type the schema declares\n"
          "(cname: the type name with '.' and '-' turned into '_').\n",
          to);
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
