/*
 * main.c — ringhost-bench: the command line, the run's settings, and the
 * order of things (register, select, run, report).  `ringhost bench ...`
 * execs this binary with the same arguments.
 *
 * Exit codes: 0 the run completed (missed targets are reported, not an
 * error), 1 a case failed in every repetition or the run could not start,
 * 2 bad usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_pvt.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ringhost-bench [--quick] [--reps N] [--cpus A,B[,C...]] [--json FILE]\n"
            "                      [--plots DIR] [--only SUBSTRING] [--list] [--ab OTHER]\n"
            "       ringhost-bench --pin-sweep MANIFEST [--send FILE.jsonl] [--reps N] [--quick]\n"
            "  --quick        shorter repetitions (0.15 s, 5000 round trips, 3 reps)\n"
            "  --reps N       repetitions of every case (default 5, quick 3)\n"
            "  --cpus A,B,..  client/producer on A, consumer/kernel on B; the \"cores\"\n"
            "                 cases spread over the whole list (default: every allowed cpu,\n"
            "                 the first two for the two-thread cases)\n"
            "  --json FILE    every figure, probe, ratio and target as JSON\n"
            "  --plots DIR    gnuplot data, script, SVG and PNG (latency, throughput)\n"
            "  --only S       run only the cases whose name contains S (S1,S2: either)\n"
            "  --list         list cases, ratios and targets, run nothing\n"
            "  --ab OTHER     compare with another build: OTHER is its ringhost (or its\n"
            "                 ringhost-bench); each repetition of each selected case runs\n"
            "                 on this build (A) and on OTHER (B), in ABBA order, and the\n"
            "                 table gives per case, metric and tag A's and B's medians and\n"
            "                 ranges, B/A and the paired ratios' spread (see bench/ab.c)\n"
            "  --pin-sweep M  run manifest M's traffic under every placement the machine\n"
            "                 allows and print the best \"pin\" block (see bench/pin_sweep.c)\n"
            "  --send FILE    with --pin-sweep: messages to send, as JSON lines\n"
            "                 (default: all-zero messages of each input queue's type)\n");
}

void bench_register_baselines(bench_suite *s, const bench_env *env)
{
    bench_register_rte_ring(s, env);
    bench_register_mutex(s, env);
    bench_register_zmq(s, env);
    bench_register_memcpy(s, env);
    bench_register_nats(s, env);
    bench_register_iceoryx(s, env);
    bench_register_gpu(s, env);
    bench_register_cores(s, env);
}

/* Every cpu this process may run on (taskset, cgroups), at most
 * BENCH_MAX_CPUS of them. */
static int default_cpus(bench_env *env)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -errno;
    env->n_cpus = 0;
    for (int c = 0; c < CPU_SETSIZE && env->n_cpus < BENCH_MAX_CPUS; c++)
        if (CPU_ISSET(c, &set))
            env->cpus[env->n_cpus++] = c;
    return env->n_cpus >= 2 ? 0 : -ENODEV;
}

/* "A,B[,C...]": at least two cpus, all different. */
static int parse_cpus(const char *arg, bench_env *env)
{
    env->n_cpus = 0;
    for (const char *p = arg;;) {
        char *end;
        long c = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || c < 0 || c >= CPU_SETSIZE ||
            env->n_cpus == BENCH_MAX_CPUS)
            return -1;
        for (int i = 0; i < env->n_cpus; i++)
            if (env->cpus[i] == c)
                return -1;
        env->cpus[env->n_cpus++] = (int)c;
        if (!*end)
            break;
        p = end + 1;
    }
    return env->n_cpus >= 2 ? 0 : -1;
}

static int allowed(int cpu)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(cpu, &set);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/*
 * A benchmark stopped by Ctrl-C, SIGTERM, a closed pipe or SIGKILL never
 * reaches its own cleanup: its in-process hosts' shared queues
 * (/dev/shm/ringhost.rhbench-<pid>-*) and its scratch folder would stay.
 * So a janitor process forked at start (before any thread) waits for the
 * benchmark's end, seen as end of file on a pipe whose write end only the
 * benchmark (and the clients it forks) hold, then removes both.  It ignores
 * the terminal's signals, which reach the whole process group, and holds
 * no stdin, stdout or stderr, so `ringhost bench | head` ends when the
 * benchmark does.  After a normal exit it finds nothing left to remove.
 */
static void start_janitor(const char *work)
{
    int fds[2];
    /* close-on-exec: the daemons it execs (nats-server, iox-roudi) must
     * not hold the write end and keep the janitor waiting */
    if (pipe2(fds, O_CLOEXEC) != 0)
        return; /* no janitor: cleanup on a normal exit only */
    pid_t bench = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        close(fds[0]);
        if (pid < 0)
            close(fds[1]);
        return; /* the write end stays open in the benchmark until it ends */
    }
    close(fds[1]);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2 && null >= 0; fd++)
        dup2(null, fd);
    for (;;) { /* nothing is ever written: end of file, or an error */
        char c;
        ssize_t r = read(fds[0], &c, 1);
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
    }
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix, "ringhost.rhbench-%d-", (int)bench);
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, (size_t)len) == 0) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    _exit(0);
}

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = calloc(1, len);
    for (int i = 0; s && i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static void list_suite(const bench_suite *s)
{
    printf("%-8s %s\n", "group", "case");
    for (uint32_t i = 0; i < s->n_cases; i++)
        if (s->cases[i].selected)
            printf("%-8s %s\n", s->cases[i].group, s->cases[i].name);
    printf("\nratios and targets:\n");
    for (uint32_t i = 0; i < s->n_checks; i++) {
        const bench_check *k = &s->checks[i];
        const char *sign = k->cmp == BENCH_AT_LEAST ? ">=" : "<=";
        if (k->den_case[0])
            printf("  %-40s %s.%s / %s.%s %s %g\n", k->name, k->num_case, k->num_metric,
                   k->den_case, k->den_metric, sign, k->target);
        else
            printf("  %-40s %s.%s %s %g\n", k->name, k->num_case, k->num_metric, sign, k->target);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'},     {"reps", required_argument, NULL, 'r'},
        {"cpus", required_argument, NULL, 'c'}, {"json", required_argument, NULL, 'j'},
        {"plots", required_argument, NULL, 'p'}, {"only", required_argument, NULL, 'o'},
        {"list", no_argument, NULL, 'l'},      {"help", no_argument, NULL, 'h'},
        {"pin-sweep", required_argument, NULL, 'P'}, {"send", required_argument, NULL, 'S'},
        {"ab", required_argument, NULL, 'A'},  {NULL, 0, NULL, 0}};
    int quick = 0, list = 0, cpus_given = 0;
    long reps = 0;
    const char *json = NULL, *plots = NULL, *only = NULL, *sweep = NULL, *send = NULL;
    const char *ab = NULL, *cpus_arg = NULL;
    bench_env env = {.log = stderr};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end;
        switch (o) {
        case 'q': quick = 1; break;
        case 'r':
            reps = strtol(optarg, &end, 10);
            if (*end || reps < 1 || reps > 1000) {
                fprintf(stderr, "ringhost-bench: --reps wants 1..1000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (parse_cpus(optarg, &env) != 0) {
                fprintf(stderr, "ringhost-bench: --cpus wants two or more different cpus "
                                "'A,B[,C...]', not '%s'\n", optarg);
                return 2;
            }
            cpus_given = 1;
            cpus_arg = optarg;
            break;
        case 'j': json = optarg; break;
        case 'p': plots = optarg; break;
        case 'o': only = optarg; break;
        case 'l': list = 1; break;
        case 'P': sweep = optarg; break;
        case 'S': send = optarg; break;
        case 'A': ab = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ringhost-bench: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    env.quick = quick;
    env.rep_seconds = quick ? 0.15 : 0.5;
    env.rtt_samples = quick ? 5000 : 20000;
    uint32_t n_reps = reps ? (uint32_t)reps : quick ? 3 : 5;
    if (ab && (sweep || plots)) {
        fprintf(stderr, "ringhost-bench: --ab compares cases: not with --pin-sweep or --plots\n");
        return 2;
    }
    if (!cpus_given && default_cpus(&env) != 0) {
        fprintf(stderr, "ringhost-bench: needs two cpus in its allowed set (see taskset)\n");
        return 1;
    }
    for (int i = 0; i < env.n_cpus; i++)
        if (!allowed(env.cpus[i])) {
            fprintf(stderr, "ringhost-bench: cpu %d is not in this process's allowed set\n",
                    env.cpus[i]);
            return 2;
        }
    env.cpu[0] = env.cpus[0];
    env.cpu[1] = env.cpus[1];

    /* Scenario kernels are built beside this binary. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    env.bench_dir = n > 0 ? dirname(exe) : ".";
    const char *tmp = getenv("TMPDIR");
    char work[PATH_MAX];
    snprintf(work, sizeof work, "%s/ringhost-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        fprintf(stderr, "ringhost-bench: cannot create %s: %s\n", work, strerror(errno));
        return 1;
    }
    env.work_dir = work;
    start_janitor(work);

    if (send && !sweep) {
        fprintf(stderr, "ringhost-bench: --send goes with --pin-sweep MANIFEST\n");
        nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 2;
    }
    if (sweep) {
#ifdef BENCH_NO_RINGHOST
        fprintf(stderr, "ringhost-bench: built without the ringhost scenarios: no --pin-sweep\n");
        int src = 1;
#else
        int src = bench_pin_sweep(&env, sweep, send, (int)n_reps, stdout);
#endif
        nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return src;
    }

    bench_suite *s = bench_suite_new();
    if (!s) {
        fprintf(stderr, "ringhost-bench: out of memory\n");
        return 1;
    }
    bench_register_baselines(s, &env);
#ifndef BENCH_NO_RINGHOST
    bench_register_ringhost(s, &env);
#endif
    bench_register_targets(s);

    int rc = 0;
    if (bench_suite_select(s, only) == 0) {
        fprintf(stderr, "ringhost-bench: no case name contains '%s' (see --list)\n", only);
        rc = 2;
    } else if (list) {
        list_suite(s);
    } else {
        bench_run_info run = {.reps = n_reps, .command = join_args(argc, argv)};
        time_t now = time(NULL);
        strftime(run.date, sizeof run.date, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
        if (!run.command)
            run.command = argv[0];

        bench_report_machine(stdout, &env, &run);
        if (ab) {
            bench_ab_opts o = {.other = ab, .json = json, .cpus_arg = cpus_arg};
            rc = bench_ab(s, &env, &o, &run, stdout);
            if (run.command != argv[0])
                free((char *)run.command);
            bench_suite_free(s);
            nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
            return rc;
        }
        uint32_t failed = bench_suite_run(s, &env, n_reps);
        fprintf(stdout, "\n");
        bench_report_tables(stdout, s);
        fflush(stdout);
        if (json && bench_report_json(json, s, &env, &run) != 0) {
            fprintf(stderr, "ringhost-bench: cannot write %s\n", json);
            rc = 1;
        }
        if (plots && bench_report_plots(plots, s, stderr) != 0)
            rc = 1;
        if (failed) {
            fprintf(stderr, "ringhost-bench: %u case(s) failed in every repetition\n", failed);
            rc = 1;
        }
        if (run.command != argv[0])
            free((char *)run.command);
    }
    bench_suite_free(s);
    nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
