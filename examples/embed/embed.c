/*
 * embed.c — a program that hosts ring kernels itself, through the embedding
 * API of ringhost/ringhost.h (libringhost.a), built against the installed
 * package only:
 *
 *   embed MANIFEST IN_QUEUE JSON_BODY OUT_QUEUE
 *
 * launches the manifest in this process, activates it, sends one message
 * whose body is JSON_BODY to IN_QUEUE, prints the answer that arrives on
 * OUT_QUEUE as one JSON line, and shuts down (printing the host's summary
 * and accounting lines on stderr).  Exit 0 when the answer came and every
 * queue balanced.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "ringhost/ringhost.h"

static int fail(const char *what, const rh_error *err)
{
    fprintf(stderr, "embed: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: embed MANIFEST IN_QUEUE JSON_BODY OUT_QUEUE\n");
        return 2;
    }
    rh_runtime *rt;
    rh_error err = {0};
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.instance = "embed-example");
    if (rh_runtime_launch(argv[1], &opts, &rt, &err) != 0)
        return fail("launch", &err);
    if (rh_runtime_activate(rt, &err) != 0)
        return fail("activate", &err);

    /* The queues know their message types: decode the body with the input
     * queue's, encode the answer with the output queue's. */
    rh_queue *in = rh_runtime_queue(rt, argv[2]), *out = rh_runtime_queue(rt, argv[4]);
    if (!in || !out) {
        fprintf(stderr, "embed: no queue %s in %s\n", !in ? argv[2] : argv[4], argv[1]);
        rh_runtime_destroy(rt);
        return 2;
    }
    const rh_type *tin = rh_queue_type(in), *tout = rh_queue_type(out);
    json_t *body = json_loads(argv[3], 0, NULL);
    void *msg = calloc(1, tin->size), *answer = calloc(1, rh_queue_payload_size(out));
    char why[256];
    int rc = 1;
    rh_id id;
    rh_envelope env;
    if (!body || tin->decode(body, msg, why, sizeof why) != 0) {
        fprintf(stderr, "embed: body: %s\n", body ? why : "not JSON");
    } else if (rh_send(in, NULL, msg, tin->size, &id) != 0) {
        fprintf(stderr, "embed: send refused\n");
    } else if (rh_recv(out, &env, answer, rh_queue_payload_size(out), 5000) < 0) {
        fprintf(stderr, "embed: no answer within 5 s\n");
    } else {
        char sent[37], corr[37];
        rh_id_format(id, sent);
        rh_id_format(env.correlation_id, corr);
        json_t *j = tout->encode(answer);
        char *text = json_dumps(j, JSON_COMPACT);
        printf("{\"sent\": \"%s\", \"correlation_id\": \"%s\", \"body\": %s}\n", sent, corr,
               text);
        free(text);
        json_decref(j);
        rc = rh_id_eq(id, env.correlation_id) ? 0 : 1;
    }
    json_decref(body);
    free(msg);
    free(answer);
    if (rh_runtime_terminate(rt, 5000, &err) != 0)
        rc = fail("terminate", &err);
    if (rh_runtime_unbalanced(rt))
        rc = 1;
    rh_runtime_destroy(rt);
    return rc;
}
