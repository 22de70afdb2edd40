/*
 * test_ringhost_gen.c — ringhost-gen itself: the codec it generates for every
 * field kind (tests/plugins/gen/all_kinds.json), required fields and
 * defaults (presence.json), and its refusal of bad schemas (exit 2, "<file>: <json path>: expected ..., got ...").
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "gen_test_all_kinds.h"
#include "gen_test_presence.h"

/* ------------------------------------------------------ generated codec ---- */

static int decode(const char *text, gen_test_all_kinds *m, char *why, size_t why_len)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
    int rc = gen_test_all_kinds_type.decode(j, m, why, why_len);
    json_decref(j);
    return rc;
}

static char *encode(const gen_test_all_kinds *m)
{
    json_t *j = gen_test_all_kinds_encode(m);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static void test_every_kind_round_trips_through_json(void **unused)
{
    (void)unused;
    const char *text =
        "{\"flag\":true,\"i8v\":-128,\"u8v\":255,\"i16v\":-32768,\"u16v\":65535,"
        "\"i32v\":-2147483648,\"u32v\":4294967295,\"i64v\":-9223372036854775808,"
        "\"u64v\":\"18446744073709551615\",\"f32v\":1.5,\"f64v\":0.5,\"color\":\"dark-green\","
        "\"label\":\"h\xc3\xa9llo\",\"flags\":[true,false,true],\"f64s\":[\"-inf\",2.5],"
        "\"u64s\":[9223372036854775807,\"9223372036854775808\"],\"i8s\":[-1,0,127]}";
    gen_test_all_kinds m;
    char why[256] = "";
    if (decode(text, &m, why, sizeof why) != 0)
        fail_msg("decode: %s", why);
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), 0);
    assert_true(m.flag);
    assert_int_equal(m.i8v, -128);
    assert_true(m.u64v == UINT64_MAX);
    assert_int_equal(m.color, GEN_TEST_ALL_KINDS_COLOR_DARK_GREEN);
    assert_string_equal(m.label, "h\xc3\xa9llo");
    assert_int_equal(m.flags_len, 3);
    assert_true(isinf(m.f64s[0]) && m.f64s[0] < 0);
    assert_int_equal(m.i8s_len, 3);
    assert_int_equal(m.i8s[0], -1);
    char *back = encode(&m);
    assert_string_equal(back, text);
    free(back);
}

static void test_layout_follows_natural_alignment(void **unused)
{
    (void)unused;
    const rh_type *t = &gen_test_all_kinds_type;
    assert_int_equal(t->size, sizeof(gen_test_all_kinds));
    assert_int_equal(t->align, 8);
    assert_int_equal(offsetof(gen_test_all_kinds, i64v) % 8, 0);
    assert_int_equal(sizeof(((gen_test_all_kinds *)0)->label), 9);
    assert_int_equal(GEN_TEST_ALL_KINDS_COLOR_BLUE_ISH, 2);
    assert_int_equal(GEN_TEST_ALL_KINDS_COLOR_COUNT, 3);
    assert_int_equal(GEN_TEST_ALL_KINDS_I8S_MAX, 4);
    assert_string_equal(t->name, "gen-test.all_kinds");
}

static void expect_decode_error(const char *text, const char *reason)
{
    gen_test_all_kinds m;
    char why[256] = "";
    assert_int_equal(decode(text, &m, why, sizeof why), -1);
    assert_string_equal(why, reason);
}

static void test_decode_errors_name_the_field_and_the_value(void **unused)
{
    (void)unused;
    expect_decode_error("{\"i8v\":128}", "i8v: expected an integer in -128..127, got 128");
    expect_decode_error("{\"u16v\":-1}", "u16v: expected an integer in 0..65535, got -1");
    expect_decode_error("{\"i32v\":1.0}",
                        "i32v: expected an integer in -2147483648..2147483647, got 1.0");
    expect_decode_error("{\"u32v\":\"5\"}", "u32v: expected an integer in 0..4294967295, got \"5\"");
    /* a quoted small u64 is a sender's mistake, not encode's spelling */
    expect_decode_error("{\"u64v\":\"1\"}",
                        "u64v: expected an integer in 0..18446744073709551615 (a string of digits "
                        "only above 9223372036854775807), got \"1\"");
    expect_decode_error("{\"u64v\":\"18446744073709551616\"}",
                        "u64v: expected an integer in 0..18446744073709551615 (a string of digits "
                        "only above 9223372036854775807), got \"18446744073709551616\"");
    expect_decode_error("{\"u64s\":[\"9223372036854775807\"]}",
                        "u64s[0]: expected an integer in 0..18446744073709551615 (a string of "
                        "digits only above 9223372036854775807), got \"9223372036854775807\"");
    expect_decode_error("{\"f32v\":1e39}",
                        "f32v: expected a number in the f32 range, got 9.9999999999999994e38");
    expect_decode_error("{\"flag\":1}", "flag: expected true or false, got 1");
    expect_decode_error("{\"flags\":[true,null]}", "flags[1]: expected true or false, got null");
    expect_decode_error("{\"color\":\"green\"}",
                        "color: expected one of \"red\", \"dark-green\", \"blue.ish\", got "
                        "\"green\"");
    expect_decode_error("{\"label\":\"123456789\"}", "label: expected at most 8 bytes, got 9");
    expect_decode_error("{\"label\":\"a\\u0000b\"}",
                        "label: expected a string without NUL characters");
    expect_decode_error("{\"i8s\":[1,2,3,4,5]}", "i8s: expected at most 4 elements, got 5");
    expect_decode_error("{\"i8s\":7}", "i8s: expected an array, got 7");
    expect_decode_error("{\"colour\":\"red\"}",
                        "colour: unknown field (gen-test.all_kinds has flag, i8v, u8v, i16v, "
                        "u16v, i32v, u32v, i64v, u64v, f32v, f64v, color, label, flags, f64s, "
                        "u64s, i8s)");
    expect_decode_error("\"text\"", "gen-test.all_kinds: expected a JSON object, got \"text\"");
}

static void test_validate_checks_lengths_enums_strings_and_bools(void **unused)
{
    (void)unused;
    gen_test_all_kinds m;
    char why[128];
    memset(&m, 0, sizeof m);
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), 0);
    m.color = 3;
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "color: expected an enum value in 0..2, got 3");
    m.color = 0;
    memset(m.label, 'a', sizeof m.label);
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "label: expected a NUL within its 9 bytes");
    strcpy(m.label, "ok\xff");
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "label: expected UTF-8, got an invalid byte at 2");
    m.label[0] = '\0';
    unsigned char two = 2;
    memcpy(&m.flag, &two, 1);
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "flag: expected a bool of 0 or 1, got 2");
    m.flag = false;
    m.flags_len = 2;
    memcpy(&m.flags[1], &two, 1);
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "flags[1]: expected a bool of 0 or 1, got 2");
    m.flags_len = 0;
    m.u64s_len = 3;
    assert_int_equal(gen_test_all_kinds_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "u64s: expected at most 2 elements, got 3");
    /* a why buffer too small, or none, is never overrun */
    assert_int_equal(gen_test_all_kinds_validate(&m, why, 4), -1);
    assert_string_equal(why, "u64");
    assert_int_equal(gen_test_all_kinds_validate(&m, NULL, 0), -1);
}

static void test_encode_of_an_invalid_message_is_still_json(void **unused)
{
    (void)unused;
    gen_test_all_kinds m;
    memset(&m, 0, sizeof m);
    memset(m.label, 0xff, sizeof m.label); /* no NUL, not UTF-8 */
    m.color = 99;
    m.i8s_len = 1000;
    char *text = encode(&m);
    assert_non_null(strstr(text, "\"label\":\"?????????\""));
    assert_non_null(strstr(text, "\"color\":99"));
    assert_non_null(strstr(text, "\"i8s\":[0,0,0,0]"));
    free(text);
}

/* ------------------------------------------------ required, defaults ---- */

static int decode_presence(const char *text, gen_test_presence *m, char *why, size_t why_len)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
    int rc = gen_test_presence_type.decode(j, m, why, why_len);
    json_decref(j);
    return rc;
}

static void test_a_missing_required_field_is_refused_by_name(void **unused)
{
    (void)unused;
    gen_test_presence m;
    char why[256] = "";
    assert_int_equal(decode_presence("{}", &m, why, sizeof why), -1);
    assert_string_equal(why, "id: missing (gen-test.presence requires id, name, tail)");
    assert_int_equal(decode_presence("{\"id\": 1, \"tail\": []}", &m, why, sizeof why), -1);
    assert_string_equal(why, "name: missing (gen-test.presence requires id, name, tail)");
    /* "optional": false is required, as a field that says nothing */
    assert_int_equal(decode_presence("{\"id\": 1, \"name\": \"n\"}", &m, why, sizeof why), -1);
    assert_string_equal(why, "tail: missing (gen-test.presence requires id, name, tail)");
    /* refused means zeroed, as for every other decode error */
    static const gen_test_presence zero;
    assert_memory_equal(&m, &zero, sizeof m);
}

static void test_missing_optional_fields_are_zero_and_defaults_are_taken(void **unused)
{
    (void)unused;
    gen_test_presence m;
    char why[256] = "";
    if (decode_presence("{\"id\": 7, \"name\": \"n\", \"tail\": [1]}", &m, why, sizeof why))
        fail_msg("decode: %s", why);
    assert_int_equal(m.id, 7);
    assert_string_equal(m.note, "");
    assert_int_equal(m.extra_len, 0);
    assert_int_equal(m.tries, -3);
    assert_true(m.big == UINT64_MAX);
    assert_true(m.low == INT64_MIN);
    assert_true(m.ratio == 0.25f);
    assert_true(isinf(m.limit) && m.limit > 0);
    assert_true(m.on);
    assert_int_equal(m.mode, GEN_TEST_PRESENCE_MODE_SAFE);
    assert_string_equal(m.greeting, "h\xc3\xa9 \"you\"?");
    assert_int_equal(m.weights_len, 3);
    assert_true(m.weights[0] == 1.5 && m.weights[1] == -2 && isnan(m.weights[2]));
    assert_int_equal(m.mask_len, 0);
    assert_int_equal(gen_test_presence_validate(&m, why, sizeof why), 0);
    /* a field that is there wins over its default */
    if (decode_presence("{\"id\": 1, \"name\": \"n\", \"tail\": [], \"tries\": 5, \"mode\": "
                        "\"fast\", \"weights\": [], \"greeting\": \"x\"}",
                        &m, why, sizeof why))
        fail_msg("decode: %s", why);
    assert_int_equal(m.tries, 5);
    assert_int_equal(m.mode, GEN_TEST_PRESENCE_MODE_FAST);
    assert_int_equal(m.weights_len, 0);
    assert_string_equal(m.greeting, "x");
}

/* ---------------------------------------------------- schema errors ---- */

typedef struct bad_schema {
    const char *json;
    const char *message; /* after "<file>: " */
} bad_schema;

static const bad_schema bad_schemas[] = {
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\"},{\"name\":\"b\",\"type\":"
     "\"u8\"},{\"name\":\"c\",\"type\":\"f16\"}]}",
     "fields[2].type: expected one of bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, enum, "
     "string, or an array of bool or a number type such as f32[], got \"f16\""},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"f32[]\"}]}",
     "fields[0].max: missing; type f32[] needs the most elements it holds (1..16777216)"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"}]}",
     "fields[0].max: missing; type string needs the most bytes it holds (1..16777216)"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\"},{\"name\":\"a\",\"type\":"
     "\"u8\"}]}",
     "fields[1].name: duplicate field name \"a\" (fields[0] has it too)"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"2a\",\"type\":\"i32\"}]}",
     "fields[0].name: expected a C identifier"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"int\",\"type\":\"i32\"}]}",
     "fields[0].name: expected a C identifier"},
    {"{\"name\":\"t x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\"}]}",
     "name: expected a type name"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"e\",\"type\":\"enum\"}]}",
     "fields[0].values: missing; an enum needs a non-empty array of value names"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\",\"max\":3}]}",
     "fields[0].max: only a string or an array has a max, and this field is i32"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"string[]\",\"max\":3}]}",
     "fields[0].type: expected one of"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"f32[]\",\"max\":3},"
     "{\"name\":\"a_len\",\"type\":\"u32\"}]}",
     "fields[1].name: generates the C name a_len, which fields[0].name also generates"},
    {"{\"name\":\"t.x\",\"fields\":[]}", "fields: expected a non-empty array"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\",\"doc\":\"x\"}]}",
     "fields[0].doc: unknown key (expected one of name, type, values, max, optional, default)"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\",\"optional\":1}]}",
     "fields[0].optional: expected true or false, got 1"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\",\"optional\":false,"
     "\"default\":1}]}",
     "fields[0].optional: false, but the field has a default"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"u8\",\"default\":256}]}",
     "fields[0].default: expected an integer in 0..255 (the field is u8), got 256"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\",\"default\":\"1\"}]}",
     "fields[0].default: expected an integer in -2147483648..2147483647 (the field is i32), "
     "got \"1\""},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"u64\",\"default\":\"12\"}]}",
     "fields[0].default: expected an integer in 0..18446744073709551615 (a string of digits only "
     "above 9223372036854775807) (the field is u64), got \"12\""},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"f32\",\"default\":1e39}]}",
     "fields[0].default: expected a number in the f32 range (the field is f32)"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"bool\",\"default\":0}]}",
     "fields[0].default: expected true or false (the field is bool), got 0"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"e\",\"type\":\"enum\",\"values\":[\"x\"],"
     "\"default\":\"y\"}]}",
     "fields[0].default: expected one of the field's values (\"x\", ...) (the field is enum), "
     "got \"y\""},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"s\",\"type\":\"string\",\"max\":2,"
     "\"default\":\"abc\"}]}",
     "fields[0].default: expected a string of at most 2 bytes without NUL (the field is string), "
     "got \"abc\""},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"v\",\"type\":\"i8[]\",\"max\":2,"
     "\"default\":[1,2,3]}]}",
     "fields[0].default: expected an array of at most 2 elements (the field is i8[]), got [1,2,3]"},
    {"{\"name\":\"t.x\",\"fields\":[{\"name\":\"v\",\"type\":\"i8[]\",\"max\":2,"
     "\"default\":[1,\"x\"]}]}",
     "fields[0].default[1]: expected an integer in -128..127 (the field is i8[]), got \"x\""},
    {"{\"name\":\"t.x\",", "1:14: string or '}' expected near end of file"},
};

/* Run ringhost-gen on text; return its exit status, its stderr in err. */
static int run_gen(const char *text, char *schema_path, size_t path_len, char *err,
                   size_t err_len)
{
    char dir[] = "/tmp/rh_gen_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(schema_path, path_len, "%s/schema.json", dir);
    FILE *f = fopen(schema_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --out-dir '%s/out' 2>&1", RH_GEN_BINARY, schema_path,
             dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(err, 1, err_len - 1, p);
    err[n] = '\0';
    int status = pclose(p);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_bad_schemas_exit_2_naming_the_file_and_the_json_path(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof bad_schemas / sizeof bad_schemas[0]; i++) {
        char path[256], err[2048], want[1024];
        int rc = run_gen(bad_schemas[i].json, path, sizeof path, err, sizeof err);
        snprintf(want, sizeof want, "%s%s%s", path, bad_schemas[i].message[0] == '1' ? ":" : ": ",
                 bad_schemas[i].message);
        if (rc != 2 || strncmp(err, want, strlen(want)) != 0)
            fail_msg("schema %s\n  expected exit 2 and \"%s...\"\n  got exit %d and \"%s\"",
                     bad_schemas[i].json, want, rc, err);
    }
}

static void test_good_schema_exits_0(void **unused)
{
    (void)unused;
    char path[256], err[1024];
    assert_int_equal(run_gen("{\"name\":\"t.x\",\"fields\":[{\"name\":\"a\",\"type\":\"i32\"}]}",
                             path, sizeof path, err, sizeof err),
                     0);
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips_through_json),
        cmocka_unit_test(test_layout_follows_natural_alignment),
        cmocka_unit_test(test_decode_errors_name_the_field_and_the_value),
        cmocka_unit_test(test_validate_checks_lengths_enums_strings_and_bools),
        cmocka_unit_test(test_encode_of_an_invalid_message_is_still_json),
        cmocka_unit_test(test_a_missing_required_field_is_refused_by_name),
        cmocka_unit_test(test_missing_optional_fields_are_zero_and_defaults_are_taken),
        cmocka_unit_test(test_bad_schemas_exit_2_naming_the_file_and_the_json_path),
        cmocka_unit_test(test_good_schema_exits_0),
    };
    return cmocka_run_group_tests_name("ringhost_gen", tests, NULL, NULL);
}
