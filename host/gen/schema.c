/*
 * schema.c — reading a message schema (JSON) into the model of schema.h, and
 * checking every rule a schema must follow: known keys, field names that are
 * C identifiers and not reserved, known types, enum values, max where needed,
 * "optional" and "default" (a default decode would accept for the field),
 * generated names that do not clash, a message that fits.  A broken rule
 * ends the run with status 2 and a message naming the file and the JSON
 * path (die_schema), before anything is written.
 *
 * Also here: the layout (natural alignment, schema order) and the
 * fingerprint (FNV-1a 64 of the canonical schema text), since both are
 * properties of the schema that the emitters only copy out.
 */
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "schema.h"

/* ------------------------------------------------------------ kinds ---- */

const struct kind_info kinds[K_COUNT] = {
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

void die_io(const char *fmt, ...)
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
void to_c_name(const char *s, char *out, int upper)
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

/* "<path>: expected <what> (the field is <type>), got <v>" and exit 2. */
static void die_default(const schema *s, const char *path, long long idx, const char *what,
                        const char *tname, const json_t *v)
{
    char got[96], at[48] = "";
    if (idx >= 0)
        snprintf(at, sizeof at, "[%lld]", idx);
    die_schema(s, "%s.default%s: expected %s (the field is %s), got %s", path, at, what, tname,
               show(v, got, sizeof got));
}

/* A u64 above INT64_MAX spelt as decimal digits, as decode accepts it. */
static int u64_digits(const char *d)
{
    uint64_t x = 0;
    size_t j = 0;
    for (; d[j] >= '0' && d[j] <= '9'; j++) {
        unsigned digit = (unsigned)(d[j] - '0');
        if (x > (UINT64_MAX - digit) / 10)
            return 0;
        x = x * 10 + digit;
    }
    return j > 0 && d[j] == '\0' && x > (uint64_t)INT64_MAX;
}

/* One value of a default (a scalar, or an element of an array's default)
 * must be one decode accepts for the field, so the generated code can
 * assign it without checking. */
static void check_default_value(const schema *s, const field *f, const char *path, long long idx,
                                const char *tname, const json_t *v)
{
    const struct kind_info *k = &kinds[f->kind];
    char what[128];
    switch (k->cls) {
    case 'b':
        if (!json_is_boolean(v))
            die_default(s, path, idx, "true or false", tname, v);
        return;
    case 'i': {
        int64_t lo = f->kind == K_I8 ? INT8_MIN : f->kind == K_I16 ? INT16_MIN
                   : f->kind == K_I32 ? INT32_MIN : INT64_MIN;
        int64_t hi = f->kind == K_I8 ? INT8_MAX : f->kind == K_I16 ? INT16_MAX
                   : f->kind == K_I32 ? INT32_MAX : INT64_MAX;
        snprintf(what, sizeof what, "an integer in %" PRId64 "..%" PRId64, lo, hi);
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
            die_default(s, path, idx, what, tname, v);
        return;
    }
    case 'u': {
        uint64_t hi = f->kind == K_U8 ? UINT8_MAX : f->kind == K_U16 ? UINT16_MAX
                    : f->kind == K_U32 ? UINT32_MAX : UINT64_MAX;
        snprintf(what, sizeof what, "an integer in 0..%" PRIu64 "%s", hi,
                 f->kind == K_U64 ? " (a string of digits only above 9223372036854775807)" : "");
        if (json_is_integer(v) && json_integer_value(v) >= 0 &&
            (uint64_t)json_integer_value(v) <= hi)
            return;
        if (f->kind == K_U64 && json_is_string(v) && u64_digits(json_string_value(v)))
            return;
        die_default(s, path, idx, what, tname, v);
        return;
    }
    case 'f': {
        const char *sp = json_is_string(v) ? json_string_value(v) : NULL;
        if (sp && (!strcmp(sp, "inf") || !strcmp(sp, "-inf") || !strcmp(sp, "nan")))
            return;
        if (!json_is_number(v))
            die_default(s, path, idx, "a number (or \"inf\", \"-inf\", \"nan\")", tname, v);
        double x = json_number_value(v);
        if (f->kind == K_F32 && (x > FLT_MAX || x < -FLT_MAX))
            die_default(s, path, idx, "a number in the f32 range", tname, v);
        return;
    }
    case 'e':
        if (json_is_string(v))
            for (size_t j = 0; j < f->n_values; j++)
                if (strcmp(json_string_value(v), f->values[j]) == 0)
                    return;
        snprintf(what, sizeof what, "one of the field's values (\"%s\", ...)", f->values[0]);
        die_default(s, path, idx, what, tname, v);
        return;
    case 's':
        snprintf(what, sizeof what, "a string of at most %" PRIu32 " bytes without NUL", f->max);
        if (!json_is_string(v) || json_string_length(v) > f->max ||
            memchr(json_string_value(v), '\0', json_string_length(v)))
            die_default(s, path, idx, what, tname, v);
        return;
    }
}

/* "optional" (true or false) and "default" (a value decode accepts for
 * this field); a field with a default is optional: missing, it takes it. */
static void parse_presence(schema *s, const json_t *jf, const char *path, const char *tname,
                           field *f)
{
    char got[96];
    const json_t *jo = json_object_get(jf, "optional");
    if (jo && !json_is_boolean(jo))
        die_schema(s, "%s.optional: expected true or false, got %s", path,
                   show(jo, got, sizeof got));
    f->def = json_object_get(jf, "default");
    if (f->def && jo && json_is_false(jo))
        die_schema(s, "%s.optional: false, but the field has a default (which makes it "
                   "optional); drop one of them", path);
    f->optional = (jo && json_is_true(jo)) || f->def;
    if (!f->def)
        return;
    if (!f->is_array) {
        check_default_value(s, f, path, -1, tname, f->def);
        return;
    }
    char what[96];
    snprintf(what, sizeof what, "an array of at most %" PRIu32 " elements", f->max);
    if (!json_is_array(f->def) || json_array_size(f->def) > f->max)
        die_default(s, path, -1, what, tname, f->def);
    for (size_t j = 0; j < json_array_size(f->def); j++)
        check_default_value(s, f, path, (long long)j, tname, json_array_get(f->def, j));
}

static void parse_field(schema *s, const json_t *jf, size_t i, field *f)
{
    char path[32], got[96];
    snprintf(path, sizeof path, "fields[%zu]", i);
    if (!json_is_object(jf))
        die_schema(s, "%s: expected an object with name and type, got %s", path,
                   show(jf, got, sizeof got));
    static const char *const known[] = {"name", "type", "values", "max", "optional", "default"};
    check_keys(s, jf, path, known, 6);

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
    parse_presence(s, jf, path, tname, f);
}

void parse_schema(schema *s, const json_t *root)
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
