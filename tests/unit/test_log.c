/*
 * test_log.c — the operator's log (host/src/base/log.h): level names, the
 * threshold, the key=value line and its quoting, and whole lines under
 * concurrent writers; a standard stream whose reader went away (EPIPE)
 * is written no more.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

#include "base/log.h"

/* Events written into a memory stream, read back as text (caller frees). */
static char *g_text;
static size_t g_len;

static FILE *capture(void)
{
    g_text = NULL;
    g_len = 0;
    FILE *mem = open_memstream(&g_text, &g_len);
    EXPECT(mem, "expected open_memstream to work");
    return mem;
}

static char *captured(FILE *mem)
{
    fclose(mem);
    return g_text;
}

/* The part of a line after "event=": the timestamp and level vary. */
static const char *after_ts(const char *line)
{
    EXPECT(strncmp(line, "ts=", 3) == 0, "expected the line to start with ts=, got: %s", line);
    const char *p = strstr(line, " level=");
    EXPECT(p, "expected level= after ts=, got: %s", line);
    return p + 1;
}

static int reset_level(void **state)
{
    (void)state;
    rh__log_set_level(RH_LOG_INFO);
    return 0;
}

static void test_level_names_parse_case_insensitively_and_unknown_ones_are_refused(void **state)
{
    (void)state;
    struct { const char *text; int level; } ok[] = {
        {"off", RH_LOG_OFF},     {"error", RH_LOG_ERROR}, {"warn", RH_LOG_WARN},
        {"WARNING", RH_LOG_WARN}, {"Info", RH_LOG_INFO},  {"debug", RH_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int level = 99;
        EXPECT(rh__log_level_parse(ok[i].text, &level) == 0 && level == ok[i].level,
               "expected \"%s\" to parse as level %d, got rc/level %d", ok[i].text, ok[i].level,
               level);
    }
    const char *bad[] = {"", "verbose", "3", "infoo", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int level = 99;
        EXPECT(rh__log_level_parse(bad[i], &level) == -1 && level == 99,
               "expected \"%s\" to be refused and the level left alone",
               bad[i] ? bad[i] : "(null)");
    }
    EXPECT(strcmp(rh__log_level_name(RH_LOG_WARN), "warn") == 0, "expected warn's name");
    EXPECT(strcmp(rh__log_level_name(RH_LOG_OFF), "off") == 0, "expected off's name");
    EXPECT(strcmp(rh__log_level_name(42), "debug") == 0, "expected 42 clamped to debug");
}

static void test_a_line_is_ts_level_event_then_the_fields(void **state)
{
    (void)state;
    FILE *mem = capture();
    rh__log_event(mem, RH_LOG_INFO, "reactor.start", "thread=%s cpu=%d loops=%llu ms=%.1f",
                  "rh-cpu1", 3, 12345ull, 1.5);
    char *text = captured(mem);
    EXPECT(strcmp(after_ts(text),
                  "level=info event=reactor.start thread=rh-cpu1 cpu=3 loops=12345 ms=1.5\n") ==
               0,
           "expected one key=value line, got: %s", text);
    /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
    EXPECT(strlen(text) > 28 && text[7] == '-' && text[13] == 'T' && text[26] == 'Z',
           "expected an ISO-8601 UTC timestamp with ms, got: %s", text);
    EXPECT(strchr(text, '\n') == text + strlen(text) - 1, "expected exactly one line: %s", text);
    free(text);
}

static void test_values_with_spaces_quotes_or_equals_are_quoted_and_escaped(void **state)
{
    (void)state;
    const char *volatile none = NULL; /* a NULL the compiler cannot see */
    FILE *mem = capture();
    rh__log_event(mem, RH_LOG_WARN, "kernel.message_failed",
                  "plain=%s spaced=%s quoted=%s eq=%s empty=%s nul=%s nl=%s", "abc",
                  "bridge a -> b", "say \"hi\"\\", "k=v", "", none, "two\nlines");
    char *text = captured(mem);
    const char *want = "level=warn event=kernel.message_failed plain=abc spaced=\"bridge a -> b\" "
                       "quoted=\"say \\\"hi\\\"\\\\\" eq=\"k=v\" empty=\"\" nul=- "
                       "nl=\"two\\nlines\"\n";
    EXPECT(strcmp(after_ts(text), want) == 0, "expected\n  %s got\n  %s", want, after_ts(text));
    free(text);
}

static void test_events_below_the_threshold_are_not_written(void **state)
{
    (void)state;
    rh__log_set_level(RH_LOG_WARN);
    FILE *mem = capture();
    rh__log_event(mem, RH_LOG_DEBUG, "d", "n=%d", 1);
    rh__log_event(mem, RH_LOG_INFO, "i", "n=%d", 2);
    rh__log_event(mem, RH_LOG_WARN, "w", "n=%d", 3);
    rh__log_event(mem, RH_LOG_ERROR, "e", "n=%d", 4);
    char *text = captured(mem);
    EXPECT(!strstr(text, "event=d ") && !strstr(text, "event=i ") && strstr(text, "event=w n=3") &&
               strstr(text, "event=e n=4"),
           "expected only warn and error at threshold warn, got:\n%s", text);
    EXPECT(rh__log_enabled(RH_LOG_WARN) && !rh__log_enabled(RH_LOG_INFO),
           "expected rh__log_enabled to follow the threshold");

    rh__log_set_level(RH_LOG_OFF);
    mem = capture();
    rh__log_event(mem, RH_LOG_ERROR, "e", NULL);
    free(text);
    text = captured(mem);
    EXPECT(text[0] == '\0', "expected nothing at all at threshold off, got: %s", text);
    free(text);

    rh__log_set_level(RH_LOG_DEBUG);
    mem = capture();
    rh__log_event(mem, RH_LOG_DEBUG, "d", NULL);
    text = captured(mem);
    EXPECT(strcmp(after_ts(text), "level=debug event=d\n") == 0,
           "expected a field-less debug line at threshold debug, got: %s", text);
    free(text);
}

static void test_a_line_too_long_is_cut_and_still_ends_with_a_newline(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    FILE *mem = capture();
    rh__log_event(mem, RH_LOG_INFO, "big", "v=%s n=%d", big, 7);
    char *text = captured(mem);
    size_t n = strlen(text);
    EXPECT(n <= 2048 && n > 2000, "expected the line cut to at most 2048 bytes, got %zu", n);
    EXPECT(strcmp(text + n - 4, "...\n") == 0, "expected a cut line to end with ...\\n");
    free(text);
}

#define WRITERS 4
#define LINES_EACH 2000

static FILE *g_shared;

static void *writer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < LINES_EACH; i++)
        rh__log_event(g_shared, RH_LOG_INFO, "race", "writer=%ld i=%d pad=%s", id, i,
                      "0123456789012345678901234567890123456789");
    return NULL;
}

static void test_concurrent_writers_never_interleave_within_a_line(void **state)
{
    (void)state;
    g_shared = capture();
    pthread_t t[WRITERS];
    for (long i = 0; i < WRITERS; i++)
        pthread_create(&t[i], NULL, writer, (void *)i);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    char *text = captured(g_shared);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        const char *f = strstr(line, " event=race writer=");
        EXPECT(f && strstr(f, " pad=0123456789012345678901234567890123456789") &&
                   !strstr(f + 1, "ts="),
               "expected every line whole, got: %s", line);
    }
    EXPECT(lines == WRITERS * LINES_EACH, "expected %d lines, got %d", WRITERS * LINES_EACH,
           lines);
    free(text);
}

/*
 * stderr on a pipe whose read end is closed: the first line fails with
 * EPIPE (SIGPIPE ignored here, as the CLI's handler makes it); then a
 * working pipe is put on fd 2 and the next line must not reach it: the log
 * took the stream for gone.  Last in the list: stderr stays gone after.
 */
static void test_a_stderr_that_failed_with_epipe_is_written_no_more(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int saved = dup(STDERR_FILENO);
    int dead[2], live[2];
    EXPECT(saved >= 0 && pipe(dead) == 0 && pipe(live) == 0, "pipe: %s", strerror(errno));
    close(dead[0]);
    fflush(stderr);
    dup2(dead[1], STDERR_FILENO);
    rh__log_event(stderr, RH_LOG_INFO, "gone.first", "n=%d", 1);
    dup2(live[1], STDERR_FILENO);
    rh__log_event(stderr, RH_LOG_INFO, "gone.second", "n=%d", 2);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(dead[1]);
    close(live[1]);
    fcntl(live[0], F_SETFL, O_NONBLOCK);
    char buf[256];
    ssize_t n = read(live[0], buf, sizeof buf);
    close(live[0]);
    EXPECT(n <= 0, "expected nothing written after EPIPE, got %zd byte(s)", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_level_names_parse_case_insensitively_and_unknown_ones_are_refused, reset_level),
        cmocka_unit_test_teardown(test_a_line_is_ts_level_event_then_the_fields, reset_level),
        cmocka_unit_test_teardown(
            test_values_with_spaces_quotes_or_equals_are_quoted_and_escaped, reset_level),
        cmocka_unit_test_teardown(test_events_below_the_threshold_are_not_written, reset_level),
        cmocka_unit_test_teardown(test_a_line_too_long_is_cut_and_still_ends_with_a_newline,
                                  reset_level),
        cmocka_unit_test_teardown(test_concurrent_writers_never_interleave_within_a_line,
                                  reset_level),
        cmocka_unit_test_teardown(test_a_stderr_that_failed_with_epipe_is_written_no_more,
                                  reset_level),
    };
    rh__log_set_level(RH_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
