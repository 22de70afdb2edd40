/*
 * run_send.c — `ringhost run --send FILE`: the JSON-lines file checked
 * whole, then sent.
 *
 * Every line is parsed, its queue found and its body decoded (into a
 * scratch message) before anything is sent: a file with a bad line sends
 * nothing, and every bad line is reported ("FILE:LINE: reason"), so a user
 * fixes the file in one go and never has half of it delivered.  The checked
 * lines are kept parsed; sending decodes each body again, straight into a
 * loaned cell of its queue (zero copy), as `ringhost send` does.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct line {
    json_t *root; /* owns body */
    json_t *body;
    rh_queue *q;
    rh_id id;
    unsigned lineno;
} line;

/* ", "-separated names of rt's queues, in the host's order, cut with "..."
 * when they do not fit. */
static void queue_names(rh_runtime *rt, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    const char *name;
    for (uint32_t i = 0; (name = rh_runtime_queue_name(rt, i)) != NULL; i++) {
        if (used + strlen(name) + 8 >= len) {
            snprintf(out + used, len - used, "%s...", i ? ", " : "");
            return;
        }
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", name);
    }
}

/* Check one line: 0 with *l filled, else the reason in err. */
static int check_line(rh_runtime *rt, const char *text, line *l, void **scratch,
                      size_t *scratch_len, rh_error *err)
{
    const char *qname;
    int rc = rh__cli_parse_line(text, &l->root, &qname, &l->id, &l->body, err);
    if (rc)
        return rc;
    l->q = rh_runtime_queue(rt, qname);
    if (!l->q) {
        char names[512];
        queue_names(rt, names, sizeof names);
        return rh_error_set(err, RH_ENOENT, "queue: expected a queue of this host (%s), got "
                            "\"%s\"", names, qname);
    }
    const rh_type *t = rh_queue_type(l->q);
    if (t->size > *scratch_len) {
        void *p = realloc(*scratch, t->size);
        if (!p)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        *scratch = p;
        *scratch_len = t->size;
    }
    char why[512] = "";
    if (t->decode(l->body, *scratch, why, sizeof why) != 0)
        return rh_error_set(err, RH_EINVALMSG, "body: %s (type %s)", why, t->name);
    return 0;
}

/* Read and check every line of f; the good ones in *lines.  Returns how
 * many lines were bad (each said on stderr), or -1 when interrupted. */
static long check_file(rh_runtime *rt, FILE *f, const char *path, _Atomic int *interrupted,
                       line **lines, size_t *n_lines)
{
    char *text = NULL;
    size_t cap = 0, room = 0;
    ssize_t len;
    unsigned lineno = 0;
    long bad = 0;
    void *scratch = NULL;
    size_t scratch_len = 0;
    while ((len = getline(&text, &cap, f)) >= 0) {
        if (atomic_load(interrupted)) {
            bad = -1;
            break;
        }
        lineno++;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = 0;
        if (len == 0 || text[0] == '#')
            continue;
        if (*n_lines == room) {
            room = room ? room * 2 : 256;
            line *p = realloc(*lines, room * sizeof *p);
            if (!p) {
                fprintf(stderr, "ringhost: %s:%u: out of memory\n", path, lineno);
                bad++;
                break;
            }
            *lines = p;
        }
        line *l = &(*lines)[*n_lines];
        memset(l, 0, sizeof *l);
        l->lineno = lineno;
        rh_error err = {0};
        if (check_line(rt, text, l, &scratch, &scratch_len, &err) != 0) {
            fprintf(stderr, "ringhost: %s:%u: %s\n", path, lineno, err.msg);
            json_decref(l->root);
            bad++;
        } else {
            (*n_lines)++;
        }
    }
    free(text);
    free(scratch);
    return bad;
}

void rh__cli_send_file(rh_runtime *rt, const char *path, _Atomic int *interrupted,
                       int *bad_input, uint64_t *sent)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ringhost: %s: cannot open: %m\n", path);
        *bad_input = 1;
        return;
    }
    line *lines = NULL;
    size_t n = 0;
    long bad = check_file(rt, f, path, interrupted, &lines, &n);
    if (f != stdin)
        fclose(f);
    if (bad > 0) {
        fprintf(stderr, "ringhost: %s: %ld bad line(s); nothing sent\n", path, bad);
        *bad_input = 1;
    }
    for (size_t i = 0; i < n; i++) {
        line *l = &lines[i];
        if (bad == 0 && !atomic_load(interrupted)) {
            const rh_type *t = rh_queue_type(l->q);
            rh_error err = {0};
            rh_loan loan;
            int rc = rh_send_reserve(l->q, 1, &loan);
            if (rc < 0) {
                rh_error_set(&err, rc, "queue %s refused the message: %s",
                             rh_queue_name(l->q), rh_strerror(rc));
            } else {
                rc = 0; /* the cells reserved: 1 */
                char why[512] = "";
                /* checked above: decoding again cannot fail unless the type did */
                if (t->decode(l->body, loan.payload, why, sizeof why) != 0)
                    rc = rh_error_set(&err, RH_EINVALMSG, "body: %s (type %s)", why, t->name);
                loan.env->id = l->id;
                int c = rh_send_commit(l->q, rc == 0 ? 1 : 0, NULL, NULL);
                if (rc == 0 && c < 0)
                    rc = rh_error_set(&err, c, "queue %s refused the message: %s",
                                      rh_queue_name(l->q), rh_strerror(c));
            }
            if (rc == 0) {
                (*sent)++;
            } else {
                fprintf(stderr, "ringhost: %s:%u: %s\n", path, l->lineno, err.msg);
                if (rh__cli_exit_code(rc) == RH_EXIT_BADINPUT)
                    *bad_input = 1;
            }
        }
        json_decref(l->root);
    }
    free(lines);
}
