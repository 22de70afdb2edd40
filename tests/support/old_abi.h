/*
 * old_abi.h — the public structs as a program built against an older
 * ringhost.h sees them: each struct's first version (what the library
 * accepts as the smallest struct_size), that is the fields each had at its
 * first release behind the leading struct_size.  test_abi_growth.c hands
 * these to the real libringhost.so to show it reads and writes none of the
 * fields appended since.  Never edit a struct here to follow ringhost.h:
 * these are what old binaries were compiled with.
 */
#ifndef RH_TEST_OLD_ABI_H
#define RH_TEST_OLD_ABI_H

#include <stdint.h>
#include <stdio.h>

/* rh_launch_opts v1: allow_plugins, find_queue, find_queue_arg,
 * watch_plugins and host_plugin_dirs were appended later. */
typedef struct old_launch_opts_v1 {
    uint32_t struct_size;
    const char *instance;
    const char *extra_plugins;
    int report_bindings;
    FILE *log;
} old_launch_opts_v1;

/* rh_queue_config v1: persist was appended later. */
typedef struct old_queue_config_v1 {
    uint32_t struct_size;
    uint32_t capacity;
    int backpressure; /* an enum: int-sized */
    uint32_t block_timeout_ms;
    uint32_t dedup_window;
    uint32_t ttl_ms;
    int shared;
} old_queue_config_v1;

/* rh_queue_stats v1: every field of today's struct. */
typedef struct old_queue_stats_v1 {
    uint32_t struct_size;
    uint64_t enqueued, dequeued, rejected, dropped_oldest, dropped_newest, duplicates, expired,
        invalid, failed, dead_lettered, depth, high_water;
    uint32_t capacity;
} old_queue_stats_v1;

/* rh_kernel_info v1: stalls and swaps_refused were appended later. */
typedef struct old_kernel_info_v1 {
    uint32_t struct_size;
    const char *name;
    const char *plugin;
    const char *version;
    const char *path;
    int state; /* an enum: int-sized */
    uint32_t workers;
    uint64_t processed, failed, emitted, batches, restarts, swaps, heartbeat_age_ns, active_ns;
    int busy;
    char threads[192];
    char cpus[64];
} old_kernel_info_v1;

#endif /* RH_TEST_OLD_ABI_H */
