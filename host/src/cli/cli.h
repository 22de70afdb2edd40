/*
 * cli.h — the ringhost command line: one file per group of verbs, sharing
 * the JSON-lines format and the exit codes of the design
 * (0 success, 1 runtime failure, 2 bad input).
 */
#ifndef RH_CLI_H
#define RH_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "ringhost/ringhost.h"

enum { RH_EXIT_OK = 0, RH_EXIT_FAIL = 1, RH_EXIT_BADINPUT = 2 };

/* The exit code for an RH_E* code: bad input (manifest, message, plugin,
 * placement, usage), a name that names nothing (RH_ENOENT) and a lifecycle
 * transition the kernel's state refuses (RH_ESTATE) are 2, the rest 1
 * (docs/OPERATIONS.md, "Exit codes"). */
int rh__cli_exit_code(int rc);

/* One input line: {"queue": "...", "id": "...optional...", "body": {...}}.
 * Fills queue (borrowed from *root), id (zero when absent) and body
 * (borrowed).  *root is owned by the caller (json_decref).  0 or RH_EINVAL
 * with the reason in err. */
int rh__cli_parse_line(const char *line, json_t **root, const char **queue, rh_id *id,
                       json_t **body, rh_error *err);

/* Print o (a reference this call takes; NULL prints nothing) on stdout as
 * one line of JSON, keys in their order: the --json output of a verb whose
 * answer is one object. */
void rh__cli_print_json_line(json_t *o);

/* Print one output line for a message taken from queue qname. */
void rh__cli_print_message(FILE *out, const char *qname, const rh_type *type,
                           const rh_envelope *env, const void *payload);

/* Attach to a running instance's shared queue and give it its type, loaded
 * from the plugin named in the queue header. */
int rh__cli_attach_typed(const char *instance, const char *qname, rh_queue **q, rh_error *err);

/* cmd_client.c: the attach of `send` and `recv`: a queue with its type
 * (a dead-letter queue's payloads typed by its kernel's plugin when it
 * loads here).  rh__cli_reattach: after RH_ESTALE, close *q and attach
 * again, every 50 ms for up to 5 s, until a running host serves the queue
 * (said on stderr); 0 with the new *q, else the last error and *q NULL. */
int rh__cli_client_attach(const char *verb, const char *instance, const char *qname,
                          rh_queue **q, rh_error *err);
int rh__cli_reattach(const char *verb, const char *instance, const char *qname, rh_queue **q,
                     rh_error *err);

/* The instance from --instance, else $RINGHOST_INSTANCE, else NULL. */
const char *rh__cli_instance(const char *given);

/* The instance as rh__cli_instance finds it; 0, or RH_EXIT_BADINPUT after
 * saying on stderr that `verb` needs one. */
int rh__cli_need_instance(const char *verb, const char **instance);

/* cmd_stat.c: when no host answers for instance, say on stderr which gone
 * host (pid, since when) left the queues still in /dev/shm, if any.
 * Returns how many queues the instance has there. */
int rh__cli_left_queues_note(const char *verb, const char *instance);

/*
 * Send one request to the control socket of instance (control.h) and read
 * its reply into *reply (owned by the caller; NULL when none came).
 * RH_EXIT_OK when the reply says "ok": true; otherwise the exit code of its
 * RH_E* code (rh__cli_exit_code), or RH_EXIT_BADINPUT when no host answers
 * ("no host running for instance ...": the instance names nothing), or
 * RH_EXIT_FAIL when the host took the request and did not answer.  Unless quiet, each failure is
 * said on stderr as "ringhost VERB: ...".
 */
int rh__cli_control_call(const char *verb, const char *instance, json_t *req, json_t **reply,
                         int quiet);

/*
 * args.c: the one parser of argument values, used by every verb.  Each
 * returns 0, or RH_EXIT_BADINPUT after saying on stderr "ringhost VERB:
 * FLAG: expected ..., got \"TEXT\"".
 *
 * rh__cli_value: argv[*i] is a flag that takes a value: *out = argv[*i + 1]
 * and *i moves past it; refused when it is the last argument.
 * rh__cli_long: all of text is a decimal whole number in [min, max]
 * ("2x", "", "+2", " 2" are refused).
 * rh__cli_seconds: a duration in [min, max] seconds: a decimal number,
 * optionally suffixed "s" or "ms" (not inf, nan or hex).
 * rh__cli_bad_arg: an argument verb does not take ("unknown option" for
 * one that starts with '-', "unexpected argument" otherwise), with the
 * verb's usage.
 */
int rh__cli_value(const char *verb, int argc, char **argv, int *i, const char **out);
int rh__cli_long(const char *verb, const char *flag, const char *text, long min, long max,
                 long *out);
int rh__cli_seconds(const char *verb, const char *flag, const char *text, double min,
                    double max, double *out);
int rh__cli_bad_arg(const char *verb, const char *arg);

/* main.c: print "usage: ringhost <verb's usage>" on stderr. */
void rh__cli_usage_hint(const char *verb);
/* main.c: the i-th verb of the table and its usage: 1, or 0 past the end. */
int rh__cli_verb_at(int i, const char **verb, const char **usage);
/* verbs.c: whether verb is one; its function and usage line (either may be NULL). */
int rh__cli_verb_find(const char *verb, int (**fn)(int, char **), const char **usage);
/* help_docs.c: the man page (roff) and the bash completion, from that table. */
void rh__cli_print_man(FILE *out, const char *version);
void rh__cli_print_bash_completion(FILE *out);

/* run_summary.c: `run --summary FILE`.  open: 0, or -1 after saying why;
 * add: a terminated runtime's summary and accounting lines; line: one
 * "ringhost: TEXT" line; close: writes "ringhost: exit N", closes, and
 * returns exit_code (RH_EXIT_FAIL for an OK one whose file failed).  Each
 * does nothing while no file is open. */
/* After a queue name of instance named nothing (RH_ENOENT): say on stderr
 * which queues it has, sorted, or that no host serves it. */
void rh__cli_queues_note(const char *verb, const char *instance);

/* `run --send FILE` (run_send.c): check every line of FILE ("-": stdin)
 * first (parsed, its queue one of rt's, its body decoding), reporting each
 * bad one as "FILE:LINE: reason"; send all of them only when none is bad
 * (else *bad_input = 1 and nothing is sent).  *sent counts what was sent;
 * stops sending once *interrupted is set. */
void rh__cli_send_file(rh_runtime *rt, const char *path, _Atomic int *interrupted,
                       int *bad_input, uint64_t *sent);

int rh__cli_summary_open(const char *path);
void rh__cli_summary_add(rh_runtime *rt);
void rh__cli_summary_line(const char *text);
int rh__cli_summary_close(int exit_code);

int rh__cmd_run(int argc, char **argv);
int rh__cmd_ps(int argc, char **argv);
int rh__cmd_launch(int argc, char **argv);
/* activate|deactivate|terminate|reload KERNEL: argv[0] is the verb. */
int rh__cmd_kernel_verb(int argc, char **argv);
int rh__cmd_send(int argc, char **argv);
int rh__cmd_recv(int argc, char **argv);
int rh__cmd_stat(int argc, char **argv);
int rh__cmd_purge(int argc, char **argv);
int rh__cmd_plugins(int argc, char **argv);
/* cmd_inspect.c: `inspect PLUGIN`, and `plugins --json` for folder dir. */
int rh__cmd_inspect(int argc, char **argv);
int rh__cli_plugins_json(const char *dir);
/* cmd_introspect.c: `methods` and `save-config` of a running host. */
int rh__cmd_methods(int argc, char **argv);
int rh__cmd_save_config(int argc, char **argv);
/* cmd_graph.c: `graph MANIFEST | --instance I [-o FILE]`. */
int rh__cmd_graph(int argc, char **argv);
/* stat_data.c: the counters of every shared queue of instance, sorted by
 * name (the objects of `stat --json`'s "queues"; a new reference). */
json_t *rh__cli_queue_stats(const char *instance);
/* stat_data.c: how many queues of instance this process may not open (a
 * host of another user makes them mode 0600), saying why for the first on
 * stderr; 0 when none. */
int rh__cli_unreadable_note(const char *instance);
int rh__cmd_validate(int argc, char **argv);
int rh__cmd_topo(int argc, char **argv);
int rh__cmd_new_kernel(int argc, char **argv);
int rh__cmd_bench(int argc, char **argv);

/* `--allow-plugin PATH` of run, validate and topo: append the absolute PATH
 * to allowed (NULL-terminated, room for one per argument pair).  0, or
 * RH_EXIT_BADINPUT after saying why on stderr. */
int rh__cli_allow_plugin(const char *verb, const char *path, const char **allowed,
                         size_t *n_allowed);

/* ready.c: the readiness signals of a serving host.
 * rh__cli_ready_fd_parse: --ready-fd TEXT to an open descriptor (> 2, made
 * close-on-exec); 0, or RH_EXIT_BADINPUT after saying why.  rh__cli_ready:
 * "READY=1\n" to ready_fd (if >= 0), which it closes, and READY=1 to
 * $NOTIFY_SOCKET (systemd) if set.  rh__cli_stopping: STOPPING=1 there. */
int rh__cli_ready_fd_parse(const char *text, int *fd);
void rh__cli_ready(int ready_fd, const char *instance);
void rh__cli_stopping(void);
/* The systemd watchdog (WatchdogSec=): half of WATCHDOG_USEC in ns, the
 * interval to send WATCHDOG=1 at, or 0 when there is no watchdog for this
 * process (unset, no NOTIFY_SOCKET, WATCHDOG_PID another's).  One ping per
 * rh__cli_watchdog_ping. */
uint64_t rh__cli_watchdog_interval_ns(void);
void rh__cli_watchdog_ping(void);

/* stat_data.c: the host's kernels from its control socket (the objects of
 * `ps --json`'s "kernels"; a new reference), or NULL when none answers. */
json_t *rh__cli_kernel_stats(const char *instance);
/* The "links" of the same reply (remote queues): each link's
 * counters, or NULL when no host answers. */
json_t *rh__cli_link_stats(const char *instance);
/* The "threads" of the same reply: each reactor thread's busy and idle
 * polls, or NULL when no host answers. */
json_t *rh__cli_thread_stats(const char *instance);
/* stat_latency.c.  rh__cli_queue_waits: set "wait" (base/hist.h's JSON) on
 * each queue of queues that kernels read, their "latency" inputs merged.
 * rh__cli_latency_print: the latency and polls tables under stat's
 * (nothing without kernels), in width columns (0: no limit).
 * rh__cli_latency_prom: the queue wait and kernel service histograms, busy
 * time and thread polls, as Prometheus text. */
void rh__cli_queue_waits(json_t *queues, json_t *kernels);
void rh__cli_latency_print(json_t *queues, json_t *kernels, json_t *threads, int width);
void rh__cli_latency_prom(FILE *out, const char *instance, json_t *queues, json_t *kernels,
                          json_t *threads);
/* cmd_stat.c: the links table under `stat`'s and `ps`'s tables (nothing
 * for NULL or no link). */
void rh__cli_links_print(json_t *links);

/* stat_prom.c: the Prometheus text of `ringhost stat --prom`, to out:
 * rh__cli_prom_print of the queues and kernels given (kernels may be NULL),
 * rh__cli_stat_prom of instance (the queues from shared memory, the kernels
 * from the control socket). */
void rh__cli_prom_print(FILE *out, const char *instance, json_t *queues, json_t *kernels);
void rh__cli_stat_prom(FILE *out, const char *instance);
/* prom_text.c: v as a label value in the exposition format (backslash,
 * quote and newline escaped), for every writer of Prometheus text. */
void rh__cli_prom_label(FILE *out, const char *v);

/* metrics_http.c: GET /metrics over HTTP (--metrics-listen).  parse:
 * "[ADDR:]PORT" (ADDR default 127.0.0.1) to sa; 0, or RH_EXIT_BADINPUT after
 * saying why.  token_read: the bearer token of --metrics-token-file path (a
 * regular file of this user's or root's, no access for others, no group
 * write; its first line, visible ASCII) into *token (malloc'ed); 0, or an
 * exit code after saying why.  start: listen on sa and serve from a thread
 * of its own, asking for token when not NULL (start takes it, freed at
 * stop); says the URL on stderr; 0, or -1 after saying why.  stop: join and
 * close. */
struct sockaddr_in;
struct rh_metrics_http;
int rh__metrics_http_parse(const char *spec, struct sockaddr_in *sa);
int rh__metrics_token_read(const char *path, char **token);
int rh__metrics_http_start(const struct sockaddr_in *sa, const char *instance, char *token,
                           struct rh_metrics_http **out);
void rh__metrics_http_stop(struct rh_metrics_http *m);

/* cmd_wait.c: `ringhost wait --instance I [--timeout S]`. */
int rh__cmd_wait(int argc, char **argv);

#endif /* RH_CLI_H */
