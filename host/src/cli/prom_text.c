/*
 * prom_text.c — the Prometheus text exposition format's own rules, for
 * every writer of it (stat_prom.c's counters and gauges, stat_latency.c's
 * histograms).
 */
#include <stdio.h>

#include "cli.h"

/* A label value as the exposition format quotes it. */
void rh__cli_prom_label(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(out, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}
