/*
 * cmd_graph.c — `ringhost graph`: the kernels, queues, bridges and threads
 * of a manifest (or of a live host) as a Graphviz digraph.
 *
 *     ringhost graph MANIFEST [--plugins DIR] [--allow-plugin PATH]... [-o FILE]
 *     ringhost graph --instance I [-o FILE]
 *
 * The DOT text goes to stdout, or to FILE: FILE.dot gets the text, any
 * other extension (svg, png, pdf) is rendered by Graphviz's `dot -T<ext>`.
 * A manifest is only planned (as `validate` does): nothing is created.  A
 * live host is asked for its kernels (ps: each names its manifest), each
 * manifest is planned again for the wiring, and its queues' shared memory
 * is read twice GRAPH_SAMPLE_MS apart, so queues say their depth and edges
 * the rate their bridge moved in that time.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "manifest/manifest.h"
#include "runtime/runtime.h"

#define GRAPH_SAMPLE_MS 1000

extern char **environ;

/* {"queues": {NAME: {"depth", "enq_rate", "deq_rate"}}, "kernels": {NAME: ps}}
 * for a live instance, and the distinct manifests of its kernels in
 * *manifests; NULL (said on stderr) when no host answers, with the exit code
 * of rh__cli_control_call in *exit_code. */
static json_t *live_counters(const char *instance, json_t **manifests, int *exit_code)
{
    json_t *req = json_pack("{s:s}", "cmd", "ps"), *reply = NULL;
    int rc = rh__cli_control_call("graph", instance, req, &reply, 0);
    json_decref(req);
    if (rc != RH_EXIT_OK) {
        json_decref(reply);
        *exit_code = rc;
        return NULL;
    }
    json_t *live = json_pack("{s:o, s:o}", "queues", json_object(), "kernels", json_object());
    *manifests = json_array();
    json_t *k;
    size_t i;
    json_array_foreach (json_object_get(reply, "kernels"), i, k) {
        const char *state = json_string_value(json_object_get(k, "state"));
        const char *m = json_string_value(json_object_get(k, "manifest"));
        if (!state || !strcmp(state, "terminated") || !m)
            continue;
        json_object_set(json_object_get(live, "kernels"),
                        json_string_value(json_object_get(k, "name")), k);
        int seen = 0;
        json_t *x;
        size_t j;
        json_array_foreach (*manifests, j, x)
            seen |= !strcmp(json_string_value(x), m);
        if (!seen)
            json_array_append_new(*manifests, json_string(m));
    }
    json_decref(reply);

    json_t *before = rh__cli_queue_stats(instance);
    uint64_t t0 = rh_now_ns();
    struct timespec ts = {GRAPH_SAMPLE_MS / 1000, (GRAPH_SAMPLE_MS % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* the rate window itself, not a wait for a condition */
    json_t *after = rh__cli_queue_stats(instance);
    double dt = (double)(rh_now_ns() - t0) / (double)RH_NS_PER_S;
    json_t *q;
    json_array_foreach (after, i, q) {
        const char *name = json_string_value(json_object_get(q, "queue"));
        json_t *p, *prev = NULL;
        size_t j;
        json_array_foreach (before, j, p)
            if (!strcmp(json_string_value(json_object_get(p, "queue")), name))
                prev = p;
        json_t *o = json_pack("{s:O}", "depth", json_object_get(q, "depth"));
        if (prev && dt > 0) {
            /* unsigned: the counters come from shared memory (cmd_stat.c) */
            uint64_t e = (uint64_t)json_integer_value(json_object_get(q, "enqueued")) -
                         (uint64_t)json_integer_value(json_object_get(prev, "enqueued"));
            uint64_t d = (uint64_t)json_integer_value(json_object_get(q, "dequeued")) -
                         (uint64_t)json_integer_value(json_object_get(prev, "dequeued"));
            json_object_set_new(o, "enq_rate", json_real((double)(int64_t)e / dt));
            json_object_set_new(o, "deq_rate", json_real((double)(int64_t)d / dt));
        }
        json_object_set_new(json_object_get(live, "queues"), name, o);
    }
    json_decref(before);
    json_decref(after);
    return live;
}

/* Render the DOT file dot_path as `dot -T<fmt> -o out`; 0 or an exit code
 * (said on stderr). */
static int render(const char *dot_path, const char *fmt, const char *out)
{
    char tflag[32];
    snprintf(tflag, sizeof tflag, "-T%s", fmt);
    char *argv[] = {"dot", tflag, "-o", (char *)out, (char *)dot_path, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "ringhost graph: cannot run Graphviz's `dot` (%s): install it (Debian: "
                        "apt-get install graphviz), or write the DOT text with -o %s.dot and "
                        "render it elsewhere\n",
                strerror(rc), "graph");
        return RH_EXIT_FAIL;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ringhost graph: `dot %s -o %s` failed (%s %d); is \"%s\" a format "
                        "Graphviz knows? (`dot -T?` lists them)\n",
                tflag, out, WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), fmt);
        return RH_EXIT_FAIL;
    }
    return RH_EXIT_OK;
}

int rh__cmd_graph(int argc, char **argv)
{
    const char *manifest = NULL, *instance = NULL, *out_path = NULL;
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT();
    const char *allowed[argc / 2 + 1];
    memset(allowed, 0, sizeof allowed);
    size_t n_allowed = 0;
    opts.allow_plugins = allowed;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--plugins")) {
            if (rh__cli_value("graph", argc, argv, &i, &opts.extra_plugins))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--allow-plugin")) {
            if (rh__cli_value("graph", argc, argv, &i, &v) ||
                rh__cli_allow_plugin("graph", v, allowed, &n_allowed) != 0)
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("graph", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "-o")) {
            if (rh__cli_value("graph", argc, argv, &i, &out_path))
                return RH_EXIT_BADINPUT;
        } else if (argv[i][0] != '-' && !manifest) {
            manifest = argv[i];
        } else {
            return rh__cli_bad_arg("graph", argv[i]);
        }
    }
    if (!manifest && !instance)
        instance = rh__cli_instance(NULL);
    if (!manifest == !instance) {
        fprintf(stderr, "ringhost graph: expected a manifest file or --instance I (a running "
                        "host), not %s\n", manifest ? "both" : "neither");
        rh__cli_usage_hint("graph");
        return RH_EXIT_BADINPUT;
    }
    const char *fmt = NULL;
    if (out_path) {
        const char *dot = strrchr(out_path, '.');
        if (!dot || !dot[1] || strchr(dot, '/')) {
            fprintf(stderr, "ringhost graph: -o %s: expected a file name with the format as its "
                            "extension (graph.svg, graph.png, graph.dot)\n", out_path);
            return RH_EXIT_BADINPUT;
        }
        fmt = dot + 1;
    }

    json_t *live = NULL, *manifests = NULL;
    if (instance) {
        int rc = RH_EXIT_FAIL;
        live = live_counters(instance, &manifests, &rc);
        if (!live)
            return rc; /* 2 when no host serves instance: it names nothing */
    } else {
        manifests = json_pack("[s]", manifest);
    }

    /* The whole document in memory first: a manifest that cannot be
     * planned leaves nothing half-written (the live graph keeps the
     * manifests that could, and says which could not). */
    char *doc = NULL;
    size_t doc_len = 0;
    FILE *out = open_memstream(&doc, &doc_len);
    if (!out) {
        fprintf(stderr, "ringhost graph: out of memory\n");
        json_decref(live);
        json_decref(manifests);
        return RH_EXIT_FAIL;
    }
    fprintf(out, "digraph \"ringhost\" {\n  rankdir=LR;\n  fontname=\"Helvetica\";\n"
                 "  node [fontname=\"Helvetica\", fontsize=11];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n  label=\"");
    const char *title = instance ? instance : manifest;
    for (const char *s = title; *s; s++)
        fprintf(out, "%s%c", *s == '"' || *s == '\\' ? "\\" : "", *s);
    fprintf(out, "%s\";\n  labelloc=t;\n", instance ? " (live)" : "");
    int rc = RH_EXIT_OK, planned = 0;
    /* A live host's later manifests were launched with the host's plugin
     * folders to fall back on (a bare manifest names none, nor itself):
     * plan them the same way, with the first manifest's folders. */
    rh_manifest *first = NULL;
    const char *host_dirs[RH_MAX_PLUGIN_DIRS + 1] = {0};
    if (instance && json_array_size(manifests) > 1) {
        rh_error ferr = {0};
        if (rh__manifest_load(json_string_value(json_array_get(manifests, 0)), &first, &ferr) ==
            0)
            for (uint32_t d = 0; d < first->n_plugin_dirs && d < RH_MAX_PLUGIN_DIRS; d++)
                host_dirs[d] = first->plugin_dirs[d];
    }
    json_t *m;
    size_t i;
    json_array_foreach (manifests, i, m) {
        rh_error err = {0};
        opts.host_plugin_dirs = i > 0 && first ? host_dirs : NULL;
        opts.instance = instance; /* a launched manifest may leave out its name */
        long at = ftell(out);
        int r = rh__runtime_graph(json_string_value(m), &opts, out, live, &err);
        if (r) {
            fseek(out, at, SEEK_SET); /* drop what this plan wrote */
            fprintf(stderr, "ringhost graph: %s\n", err.msg);
            fprintf(out, "  /* %s: not planned (see stderr) */\n", json_string_value(m));
            rc = rh__cli_exit_code(r);
        } else {
            planned++;
        }
    }
    fprintf(out, "}\n");
    fclose(out);
    if (first)
        rh__manifest_free(first);
    json_decref(live);
    json_decref(manifests);
    if (planned == 0) {
        if (instance && rc == RH_EXIT_OK) {
            fprintf(stderr, "ringhost graph: instance \"%s\" runs no kernel\n", instance);
            rc = RH_EXIT_FAIL;
        }
        free(doc);
        return rc;
    }

    /* To stdout, to out_path (.dot), or to a file beside it that dot
     * renders and that is removed after. */
    if (!fmt) {
        fwrite(doc, 1, doc_len, stdout);
        free(doc);
        return rc;
    }
    char tmp[4200];
    int is_dot = !strcmp(fmt, "dot") || !strcmp(fmt, "gv");
    if (is_dot)
        snprintf(tmp, sizeof tmp, "%s", out_path);
    else
        snprintf(tmp, sizeof tmp, "%s.%ld.dot", out_path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int wrote = f && fwrite(doc, 1, doc_len, f) == doc_len;
    if (f && fclose(f) != 0)
        wrote = 0;
    free(doc);
    if (!wrote) {
        fprintf(stderr, "ringhost graph: %s: cannot write: %s\n", tmp, strerror(errno));
        if (f)
            unlink(tmp);
        return RH_EXIT_FAIL;
    }
    if (!is_dot) {
        int r = render(tmp, fmt, out_path);
        if (r)
            rc = r;
        unlink(tmp);
    }
    return rc;
}
