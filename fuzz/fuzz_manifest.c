/*
 * fuzz_manifest.c — libFuzzer target: any bytes as a manifest file.
 *
 * The loader's API takes a path, so the bytes go into one memfd, reached as
 * /proc/self/fd/N (rewritten for each input; nothing is added to the host
 * for the fuzzer).  Whatever the bytes, rh__manifest_load must return (no
 * crash, no hang, no out-of-bounds access: ASan and UBSan watch), and:
 *  - on failure: RH_EMANIFEST (or RH_ENOMEM), *out NULL, and a message that
 *    starts with the file's path, as every loader error does;
 *  - on success: a manifest whose values keep the loader's promises (ranges,
 *    powers of two, ports bound to declared queues, terminated strings).
 * A broken promise aborts, which libFuzzer reports as a crash with the input.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "manifest/manifest.h"

static int mfd = -1;
static char path[64];

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_manifest: broken promise: " __VA_ARGS__);    \
            fprintf(stderr, "\n");                                             \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int pow2(uint32_t x)
{
    return x && (x & (x - 1)) == 0;
}

/* What a loaded manifest promises its users (runtime.c, wiring.c). */
static void check_manifest(const rh_manifest *m)
{
    CHECK(terminated(m->name, sizeof m->name) && m->name[0], "name");
    CHECK(m->n_plugin_dirs >= 1 && m->n_plugin_dirs <= RH_MAX_PLUGIN_DIRS, "plugin dirs %u",
          m->n_plugin_dirs);
    for (uint32_t i = 0; i < m->n_plugin_dirs; i++)
        CHECK(terminated(m->plugin_dirs[i], sizeof m->plugin_dirs[i]) && m->plugin_dirs[i][0],
              "plugin dir %u", i);
    CHECK(m->n_kernels >= 1 && m->kernels, "kernels");
    CHECK(m->batch_default >= 1 && m->batch_default <= RH_BATCH_MAX, "batch default");
    for (uint32_t i = 0; i < m->n_queues; i++) {
        const rh_queue_decl *q = &m->queues[i];
        CHECK(rh__json_name_ok(q->name, RH_QUEUE_NAME_MAX, 1), "queue name %u", i);
        CHECK(terminated(q->type, sizeof q->type), "queue type %u", i);
        CHECK(pow2(q->cfg.capacity) && q->cfg.capacity >= 2 &&
                  q->cfg.capacity <= RH_QUEUE_CAPACITY_MAX,
              "queue %s capacity %u", q->name, q->cfg.capacity);
        CHECK((uint64_t)q->cfg.dedup_window <= 4ull * q->cfg.capacity, "queue %s dedup", q->name);
        CHECK((unsigned)q->cfg.backpressure <= RH_BP_DROP_NEWEST, "queue %s policy", q->name);
        CHECK(q->cfg.block_timeout_ms <= 2147483647u && q->cfg.ttl_ms <= 2147483647u,
              "queue %s times", q->name);
        for (uint32_t j = 0; j < i; j++)
            CHECK(strcmp(m->queues[j].name, q->name) != 0, "queue %s twice", q->name);
    }
    for (uint32_t i = 0; i < m->n_kernels; i++) {
        const rh_kernel_decl *k = &m->kernels[i];
        CHECK(terminated(k->name, sizeof k->name) && k->name[0], "kernel %u name", i);
        CHECK(terminated(k->plugin, sizeof k->plugin) && k->plugin[0], "kernel %u plugin", i);
        /* never a way out of the plugin folders but an absolute path,
         * which only the command line may allow (wiring.c) */
        CHECK(k->plugin[0] == '/' || (!strchr(k->plugin, '/') && !strstr(k->plugin, "..")),
              "kernel %u plugin \"%s\" reaches outside the plugin folders", i, k->plugin);
        CHECK(k->workers >= 1 && k->workers <= RH_MAX_WORKERS, "kernel %u workers", i);
        CHECK(k->batch >= 1 && k->batch <= RH_BATCH_MAX, "kernel %u batch", i);
        CHECK(k->ring_capacity == 0 ||
                  (pow2(k->ring_capacity) && k->ring_capacity <= RH_RING_CAPACITY_MAX),
              "kernel %u ring capacity", i);
        CHECK(k->n_inputs <= RH_MAX_PORTS && k->n_outputs <= RH_MAX_PORTS, "kernel %u ports", i);
        CHECK(k->config_json && k->config_json[0] == '{', "kernel %u config", i);
        CHECK(terminated(k->pin_dispatch.text, sizeof k->pin_dispatch.text) &&
                  terminated(k->pin_pump.text, sizeof k->pin_pump.text),
              "kernel %u pins", i);
        for (int dir = 0; dir < 2; dir++) {
            const rh_port_binding *b = dir ? k->outputs : k->inputs;
            uint32_t n = dir ? k->n_outputs : k->n_inputs;
            for (uint32_t p = 0; p < n; p++) {
                CHECK(terminated(b[p].port, sizeof b[p].port) && b[p].port[0],
                      "kernel %u port %u", i, p);
                CHECK(rh__manifest_queue((rh_manifest *)m, b[p].queue) != NULL,
                      "kernel %u port %s bound to undeclared queue %s", i, b[p].port,
                      b[p].queue);
            }
        }
        for (uint32_t j = 0; j < i; j++)
            CHECK(strcmp(m->kernels[j].name, k->name) != 0, "kernel %s twice", k->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (mfd < 0) {
        mfd = memfd_create("fuzz_manifest.json", MFD_CLOEXEC);
        if (mfd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
    }
    if (ftruncate(mfd, 0) != 0 || (size && pwrite(mfd, data, size, 0) != (ssize_t)size))
        abort();

    rh_manifest *m = (rh_manifest *)0x1;
    rh_error err;
    memset(&err, 0, sizeof err);
    int rc = rh__manifest_load(path, &m, &err);
    if (rc == 0) {
        CHECK(m != NULL, "success without a manifest");
        check_manifest(m);
        rh__manifest_free(m);
        return 0;
    }
    CHECK(m == NULL, "failure must leave *out NULL");
    CHECK(rc == RH_EMANIFEST || rc == RH_ENOMEM, "unexpected code %d: %s", rc, err.msg);
    CHECK(err.code == rc, "err.code %d != rc %d", err.code, rc);
    CHECK(terminated(err.msg, sizeof err.msg), "unterminated message");
    CHECK(strncmp(err.msg, path, strlen(path)) == 0 && strlen(err.msg) > strlen(path) + 2,
          "the message must name the file and say what is wrong, got: %s", err.msg);
    return 0;
}
