/*
 * args.c — the one parser of the command line's values: a flag's value,
 * whole numbers, durations, and the refusal of an argument no verb takes.
 * Every refusal names the verb, the flag and the text it got, says what
 * was expected, and makes the command exit 2 (RH_EXIT_BADINPUT).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int rh__cli_value(const char *verb, int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "ringhost %s: %s: expected a value after it\n", verb, argv[*i]);
        rh__cli_usage_hint(verb);
        return RH_EXIT_BADINPUT;
    }
    *out = argv[++*i];
    return 0;
}

int rh__cli_long(const char *verb, const char *flag, const char *text, long min, long max,
                 long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    int ok = text[0] && end && *end == '\0' && errno == 0 && v >= min && v <= max &&
             text[0] != ' ' && text[0] != '+';
    if (!ok) {
        fprintf(stderr, "ringhost %s: %s: expected a whole number from %ld to %ld, got \"%s\"\n",
                verb, flag, min, max, text);
        return RH_EXIT_BADINPUT;
    }
    *out = v;
    return 0;
}

int rh__cli_seconds(const char *verb, const char *flag, const char *text, double min,
                    double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = text[0] && text[0] != ' ' && text[0] != '+' ? strtod(text, &end) : NAN;
    if (end && end != text) {
        if (!strcmp(end, "ms")) {
            v /= 1000;
            end += 2;
        } else if (!strcmp(end, "s")) {
            end += 1;
        }
    }
    /* strtod takes "inf", "nan" and hex: a duration is none of them */
    int ok = end && end != text && *end == '\0' && errno == 0 && isfinite(v) && v >= min &&
             v <= max && !strpbrk(text, "xXnNiI");
    if (!ok) {
        fprintf(stderr, "ringhost %s: %s: expected a number of seconds from %g to %g (like 1.5, "
                        "1.5s or 250ms), got \"%s\"\n", verb, flag, min, max, text);
        return RH_EXIT_BADINPUT;
    }
    *out = v;
    return 0;
}

int rh__cli_bad_arg(const char *verb, const char *arg)
{
    if (arg[0] == '-' && arg[1])
        fprintf(stderr, "ringhost %s: unknown option \"%s\"\n", verb, arg);
    else
        fprintf(stderr, "ringhost %s: unexpected argument \"%s\"\n", verb, arg);
    rh__cli_usage_hint(verb);
    return RH_EXIT_BADINPUT;
}
