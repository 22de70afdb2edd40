/*
 * queue_shm.c — the named queue's lifecycle: create, attach, close.
 *
 * A shared queue is a POSIX shared-memory object, /dev/shm/ringhost.<instance>:<name>,
 * mapped by the host that creates it and by every client that attaches by
 * name; a private queue is an anonymous mapping of the same layout
 * (queue_layout.h).  This file builds the object names, refuses to take over
 * a live host's queue (queue_takeover.c), reserves and maps the memory, writes
 * the header and publishes it, checks a foreign header before trusting it,
 * and unlinks only the object its own host created (never a persist one:
 * queue_persist.c takes those over at the next launch).  Nothing here runs per
 * message: the hot path is queue.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/own_name.h"
#include "base/struct_size.h"
#include "queue/queue_layout.h"

/* ---------------------------------------------------------- lifecycle --- */

/* The object now at shm_name is another user's (a squatter who took the
 * name between our pick and our create). */
static int taken_by_another(const char *shm_name)
{
    char path[sizeof(SHM_DIR) + 256];
    struct stat st;
    snprintf(path, sizeof path, SHM_DIR "%s", shm_name);
    return lstat(path, &st) == 0 && st.st_uid != geteuid();
}

static int copy_string(char *dst, size_t dst_len, const char *src)
{
    size_t n = strlen(src);
    if (n >= dst_len)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Everything rh_queue_create refuses, with the expected value in the text. */
static int check_create_args(const char *instance, const char *name, const rh_type *type,
                             const rh_queue_config *cfg, const char *type_origin, rh_error *err)
{
    if (!rh_queue_name_valid(name))
        return rh_error_set(err, RH_EINVAL,
                            "queue name \"%s\" is invalid: expected 1 to %d characters from "
                            "[A-Za-z0-9._-]", name ? name : "(null)", RH_QUEUE_NAME_MAX);
    if (!cfg)
        return rh_error_set(err, RH_EINVAL, "queue \"%s\": no configuration given", name);
    if (cfg->shared && !rh_queue_name_valid(instance))
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": instance name \"%s\" is invalid: expected 1 to %d "
                            "characters from [A-Za-z0-9._-]",
                            name, instance ? instance : "(null)", RH_QUEUE_NAME_MAX);
    if (!type || !type->name)
        return rh_error_set(err, RH_EINVAL, "queue \"%s\": a message type is required", name);
    if (type->fingerprint == 0)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type \"%s\" has fingerprint 0; expected a non-zero "
                            "fingerprint (types come from ringhost-gen)", name, type->name);
    if (strlen(type->name) > TYPE_NAME_MAX)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type name \"%.40s...\" is longer than %d bytes", name,
                            type->name, TYPE_NAME_MAX);
    if (slot_size_for(type->size) > INT32_MAX)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type \"%s\" is %u bytes; expected at most %llu", name,
                            type->name, type->size,
                            (unsigned long long)(INT32_MAX - sizeof(cell) - 15));
    if (!capacity_valid(cfg->capacity))
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": capacity must be a power of two between 2 and %u, "
                            "got %u", name, RH_QUEUE_CAPACITY_MAX, cfg->capacity);
    if ((unsigned)cfg->backpressure >= BP_COUNT)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": backpressure must be one of block, reject, "
                            "drop_oldest, drop_newest, got %d", name, (int)cfg->backpressure);
    if ((uint64_t)cfg->dedup_window > 4ull * cfg->capacity)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": dedup_window must be between 0 and 4*capacity = "
                            "%llu, got %u", name, 4ull * cfg->capacity, cfg->dedup_window);
    if (cfg->persist && (!cfg->shared || cfg->backpressure == RH_BP_DROP_OLDEST))
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": persist needs shared and a backpressure other than "
                            "drop_oldest", name);
    if (type_origin && strlen(type_origin) > TYPE_ORIGIN_MAX)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type origin is %zu bytes; expected at most %d", name,
                            strlen(type_origin), TYPE_ORIGIN_MAX);
    return 0;
}

/* "/dev/shm/ringhost.<instance>:<name>": where shm_open keeps the object,
 * for stat and for messages. */
static void shm_path_of(char *buf, size_t len, const char *shm_name)
{
    snprintf(buf, len, SHM_DIR "%s", shm_name);
}

/* Refuse an object another user owns: its bytes are theirs to write, so
 * nothing read from it could be trusted, and replacing it would delete
 * their file (root may).  An object we cannot even stat is left to
 * shm_open to report.  0, or RH_EEXIST / RH_EINVAL (code) with a message. */
static int refuse_foreign(const rh_queue *q, const struct stat *st, int code, const char *doing,
                          rh_error *err)
{
    if (st->st_uid == geteuid())
        return 0;
    char path[sizeof(SHM_DIR) + sizeof q->shm_name];
    shm_path_of(path, sizeof path, q->shm_name);
    return rh_error_set(err, code,
                        "queue \"%s\": %s is owned by uid %u, not by this user (uid %u); "
                        "refusing to %s another user's shared memory (remove it as its owner "
                        "or root, or use another instance name: --instance)",
                        q->name, path, (unsigned)st->st_uid, (unsigned)geteuid(), doing);
}

/* Create, size and map the shm object.  An existing object of that name
 * owned by another user is refused and left alone; one whose creator is
 * gone is a leftover of a host that died, so it is unlinked; one whose
 * creator still runs belongs to a live host and is refused.  O_EXCL then
 * catches two hosts racing for one instance name (and another user
 * planting the name in between: /dev/shm is sticky, they cannot remove
 * ours, and we never open theirs). */
static int map_shared(rh_queue *q, size_t size, rh_error *err)
{
    char path[sizeof(SHM_DIR) + sizeof q->shm_name];
    shm_path_of(path, sizeof path, q->shm_name);
    struct stat old = {.st_mode = 0};
    if (lstat(path, &old) == 0) {
        int rc = refuse_foreign(q, &old, RH_EEXIST, "replace", err);
        if (rc != 0)
            return rc;
    }
    /* Only a regular file can be a live host's queue (opening a FIFO
     * left there would block); anything else is replaced below. */
    pid_t owner = S_ISREG(old.st_mode) ? rh__queue_live_creator(q->shm_name) : 0;
    if (owner)
        return rh_error_set(err, RH_EEXIST,
                            "queue \"%s\": %s belongs to a running host (pid %d); stop it or "
                            "launch under another instance name (--instance)",
                            q->name, q->shm_name, (int)owner);
    if (S_ISREG(old.st_mode) && !q->persist) {
        int rc = rh__queue_persist_guard(q, err);
        if (rc != 0)
            return rc;
    }
    if (S_ISREG(old.st_mode))
        rh__queue_take_over_dead(q, &old);
    if (old.st_mode)
        shm_unlink(q->shm_name); /* ours (refuse_foreign): a leftover */
    int fd = shm_open(q->shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0)
        return rh_error_set(err, errno == EEXIST ? RH_EEXIST : RH_ESYS,
                            "queue \"%s\": shm_open(%s): %s", q->name, q->shm_name,
                            strerror(errno));
    /* The umask may have cleared bits; the mode is part of the contract. */
    struct stat st;
    int rc;
    if (fchmod(fd, 0600) != 0 || fstat(fd, &st) != 0) {
        rc = rh_error_set(err, RH_ESYS, "queue \"%s\": %s: %s", q->name, q->shm_name,
                          strerror(errno));
        goto fail;
    }
    q->shm_dev = st.st_dev;
    q->shm_ino = st.st_ino;
    if (ftruncate(fd, (off_t)size) != 0) {
        rc = rh_error_set(err, errno == ENOSPC || errno == EFBIG ? RH_ENOMEM : RH_ESYS,
                          "queue \"%s\": ftruncate(%s, %zu): %s", q->name, q->shm_name, size,
                          strerror(errno));
        goto fail;
    }
    /* tmpfs allocates pages on first touch; a full /dev/shm would then kill
     * us with SIGBUS in the middle of a send.  Reserve them now instead. */
    rc = posix_fallocate(fd, 0, (off_t)size);
    if (rc != 0) {
        rc = rh_error_set(err, rc == ENOSPC || rc == EFBIG ? RH_ENOMEM : RH_ESYS,
                          "queue \"%s\": cannot reserve %zu bytes of shared memory in " SHM_DIR
                          " for %s (posix_fallocate: %s); make /dev/shm larger or the queue "
                          "smaller", q->name, size, q->shm_name, strerror(rc));
        goto fail;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        rc = rh_error_set(err, errno == ENOMEM ? RH_ENOMEM : RH_ESYS,
                          "queue \"%s\": mmap(%s, %zu bytes): %s", q->name, q->shm_name, size,
                          strerror(errno));
        goto fail;
    }
    /* A persist queue keeps its fd, flocked, for the host's lifetime: the
     * next launch knows by the lock whether a host still uses it, and the
     * lock dies with the process, however it dies (queue_persist.c).  The
     * lock can only be taken first by another launch racing for the name
     * we just created: let that one have it. */
    if (q->cfg.persist) {
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            munmap(p, size);
            rc = rh_error_set(err, RH_EEXIST,
                              "persist queue \"%s\": %s was locked by another host as it was "
                              "created; launch under another instance name (--instance)",
                              q->name, q->shm_name);
            goto fail;
        }
        q->lock_fd = fd;
    } else {
        close(fd);
    }
    q->h = p;
    return 0;
fail:
    close(fd);
    shm_unlink(q->shm_name);
    return rc;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
/* Queues up to this size get their pages at creation; bigger ones stay
 * lazy (a 2^24-slot queue must not commit gigabytes it may never use). */
#define PREFAULT_MAX_BYTES (64u << 20)

/*
 * Commit the pages of a new queue now, writable, without writing them.
 * Measured: without it, an echo round trip that first touched a page paid
 * for the fault (~4 us instead of ~1.4 us, one round trip in 37 while the
 * cells went through the queue's first lap: 112-byte cells, 4 KiB pages).
 * A kernel without MADV_POPULATE_WRITE (< 5.14) refuses it: the pages then
 * fault in on first use, as before.
 */
static void prefault(rh_queue *q)
{
    if (q->map_size <= PREFAULT_MAX_BYTES)
        (void)madvise(q->h, q->map_size, MADV_POPULATE_WRITE);
}

int rh_queue_create(const char *instance, const char *name, const rh_type *type,
                    const rh_queue_config *caller_cfg, const char *type_origin, rh_queue **out,
                    rh_error *err)
{
    if (!out)
        return rh_error_set(err, RH_EINVAL, "rh_queue_create: out must not be NULL");
    *out = NULL;
    /* Only the caller's struct_size bytes are read; the rest are defaults
     * (base/struct_size.h). */
    rh_queue_config full;
    rh_error why;
    if (caller_cfg && rh__struct_in(&rh__kind_queue_config, &full, caller_cfg, &why) != 0)
        return rh_error_set(err, why.code, "queue \"%s\": %s", name ? name : "(null)", why.msg);
    const rh_queue_config *cfg = caller_cfg ? &full : NULL;
    int rc = check_create_args(instance, name, type, cfg, type_origin, err);
    if (rc != 0)
        return rc;

    rh_queue *q = calloc(1, sizeof *q);
    if (!q)
        return rh_error_set(err, RH_ENOMEM, "queue \"%s\": out of memory", name);
    q->capacity = cfg->capacity;
    q->mask = cfg->capacity - 1;
    q->payload_size = type->size;
    q->slot_size = (uint32_t)slot_size_for(type->size);
    q->map_size = sizeof(queue_header) + (size_t)q->capacity * q->slot_size;
    q->creator = 1;
    q->lock_fd = -1;
    q->dead_fd = -1;
    q->cfg = *cfg;
    q->cfg.shared = cfg->shared ? 1 : 0;
    q->cfg.persist = cfg->persist ? 1 : 0;
    q->persist = q->cfg.persist;
    q->type = type;
    q->fingerprint = type->fingerprint;
    copy_string(q->name, sizeof q->name, name);
    copy_string(q->type_name, sizeof q->type_name, type->name);
    copy_string(q->type_origin, sizeof q->type_origin, type_origin ? type_origin : "");

    if (q->cfg.shared) {
        /* Another user may hold the name, or take it between the pick and
         * the create: pick again, a bounded number of times. */
        uid_t squatter = (uid_t)-1;
        for (int attempt = 0;; attempt++) {
            if (rh__queue_shm_name(instance, name, 1, q->shm_name, sizeof q->shm_name,
                                   &squatter) < 0) {
                rc = rh_error_set(err, RH_ESYS, "queue \"%s\": cannot list " SHM_DIR
                                  " for a name of this user's: %s", name, strerror(errno));
                break;
            }
            rc = q->persist ? rh__queue_persist_open(q, type, err) : 0;
            if (rc == 0)
                rc = map_shared(q, q->map_size, err);
            if (rc >= 0 || attempt == 8 || !taken_by_another(q->shm_name))
                break;
        }
        if (rc < 0) {
            free(q);
            return rc;
        }
        if (squatter != (uid_t)-1)
            rh__log_event(NULL, RH_LOG_WARN, "queue.name_taken",
                          "queue=%s object=" SHM_DIR "/" SHM_PREFIX "%s:%s owner_uid=%u "
                          "using=" SHM_DIR "%s reason=\"another user's object has the name; "
                          "it is left alone, and this user's clients find the numbered one\"",
                          name, instance, name, (unsigned)squatter, q->shm_name);
        if (rc == 1) {
            /* The dead run's producer notes described claims the recovery
             * undid (queue_notes.c); its halt words went with the marks
             * the recovery cleared. */
            memset(q->h->notes, 0, sizeof q->h->notes);
            atomic_store_explicit(&q->h->prod_halt, 0, memory_order_relaxed);
            atomic_store_explicit(&q->h->cons_halt, 0, memory_order_relaxed);
            rh__queue_heartbeat_start(q);
            *out = q;
            return 0;
        }
    } else {
        /* Anonymous pages are zero, which is an empty queue (see the stamp
         * encoding at the top of queue.c), and are only committed when
         * touched. */
        void *p = mmap(NULL, q->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED) {
            rc = rh_error_set(err, RH_ENOMEM, "queue \"%s\": cannot map %zu bytes: %s", name,
                              q->map_size, strerror(errno));
            free(q);
            return rc;
        }
        q->h = p;
    }
    q->cells = (unsigned char *)q->h + sizeof(queue_header);
    q->free_tail = q->persist ? &q->h->acked : &q->h->cons_tail;
    prefault(q);

    queue_header *h = q->h;
    h->layout_version = QUEUE_LAYOUT_VERSION;
    h->header_size = sizeof(queue_header);
    h->fingerprint = type->fingerprint;
    h->payload_size = q->payload_size;
    h->slot_size = q->slot_size;
    h->capacity = q->capacity;
    h->mask = (uint32_t)q->mask;
    h->policy = (uint32_t)cfg->backpressure;
    h->block_timeout_ms = cfg->block_timeout_ms;
    h->dedup_window = cfg->dedup_window;
    h->ttl_ms = cfg->ttl_ms;
    h->creator_pid = (int32_t)getpid();
    h->creator_uid = (uint32_t)getuid();
    h->created_ns = rh__wall_ns();
    h->persist = (uint32_t)q->persist;
    memcpy(h->name, q->name, sizeof h->name);
    memcpy(h->type_name, q->type_name, sizeof h->type_name);
    memcpy(h->type_origin, q->type_origin, sizeof h->type_origin);
    rh__bell_init(&h->not_empty, q->cfg.shared);
    rh__bell_init(&h->not_full, q->cfg.shared);
    atomic_store_explicit(&h->replaced_lost_in_host, q->dead_lost, memory_order_relaxed);
    atomic_store_explicit(&h->replaced_discarded, q->dead_discarded, memory_order_relaxed);
    /* The heartbeat's time before the magic (stat never sees a live queue
     * without one), the heartbeat itself after: its sweep checks the
     * magic (queue_stall.c rh__queue_header_watch) and would take a queue
     * still being created for a rewritten one. */
    atomic_store_explicit(&h->heartbeat_ns, rh__wall_ns(), memory_order_relaxed);
    /* Last, with release: an attacher that sees the magic sees the rest. */
    atomic_store_explicit(&h->magic, QUEUE_MAGIC, memory_order_release);
    rh__queue_heartbeat_start(q);
    *out = q;
    return 0;
}

int rh_queue_attach(const char *instance, const char *name, rh_queue **out, rh_error *err)
{
    if (!out)
        return rh_error_set(err, RH_EINVAL, "rh_queue_attach: out must not be NULL");
    *out = NULL;
    if (!rh_queue_name_valid(instance) || !rh_queue_name_valid(name))
        return rh_error_set(err, RH_EINVAL,
                            "instance \"%s\" / queue \"%s\": expected 1 to %d characters from "
                            "[A-Za-z0-9._-]", instance ? instance : "(null)",
                            name ? name : "(null)", RH_QUEUE_NAME_MAX);
    rh_queue *q = calloc(1, sizeof *q);
    if (!q)
        return rh_error_set(err, RH_ENOMEM, "queue \"%s\": out of memory", name);
    q->lock_fd = -1;
    /* ours, or the plain name (whose open then says it is missing or
     * another user's) */
    rh__queue_shm_name(instance, name, 0, q->shm_name, sizeof q->shm_name, NULL);
    int fd = shm_open(q->shm_name, O_RDWR, 0);
    if (fd < 0) {
        int e = errno;
        char path[sizeof(SHM_DIR) + sizeof q->shm_name + 1];
        snprintf(path, sizeof path, SHM_DIR "%s", q->shm_name);
        free(q);
        if (e == ENOENT)
            return rh_error_set(err, RH_ENOENT,
                                "no shared queue \"%s\" in instance \"%s\" (" SHM_DIR
                                "/" SHM_PREFIX "%s:%s does not exist; is the host running?)",
                                name, instance, instance, name);
        struct stat st;
        if ((e == EACCES || e == EPERM) && stat(path, &st) == 0)
            return rh_error_set(err, RH_ESYS,
                                "queue \"%s\" of instance \"%s\": permission denied: %s "
                                "belongs to uid %u (mode %03o) and this process runs as uid "
                                "%u; run it as that user (or root)",
                                name, instance, path, (unsigned)st.st_uid,
                                (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
        return rh_error_set(err, RH_ESYS, "queue \"%s\": shm_open(/" SHM_PREFIX "%s:%s): %s",
                            name, instance, name, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        free(q);
        return rh_error_set(err, RH_ESYS, "queue \"%s\": fstat: %s", name, strerror(e));
    }
    snprintf(q->name, sizeof q->name, "%s", name);
    int rc = refuse_foreign(q, &st, RH_EINVAL, "attach to", err);
    if (rc == 0 && (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(queue_header)))
        rc = rh_error_set(err, RH_EINVAL,
                          "queue \"%s\": not a ringhost queue (smaller than its header)", name);
    if (rc != 0) {
        close(fd);
        free(q);
        return rc;
    }
    /* Its identity, for the stale check (queue_health.c): a host that
     * replaces the object under this name makes this mapping a dead one. */
    q->shm_dev = st.st_dev;
    q->shm_ino = st.st_ino;
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    if (p == MAP_FAILED) {
        close(fd);
        free(q);
        return rh_error_set(err, RH_ESYS, "queue \"%s\": mmap: %s", name, strerror(e));
    }
    rc = rh__queue_header_check(p, size, name, err);
    /* A dead host's queue its next host is taking over (a persist one moved
     * from under its clients, queue_persist.c; any other replaced,
     * take_over_dead): the new object takes the name in a moment. */
    if (rc == 0 && atomic_load(&((queue_header *)p)->moved) != MOVE_NONE)
        rc = rh_error_set(err, RH_EEXIST,
                          "queue \"%s\": a new host is taking it over right now; try again",
                          name);
    /* A persist queue: say we are attached, so no host recovers it under
     * us (the lock stays with the fd until rh_queue_close).  Any other: the
     * same read lock, taken once and never waited for, so that a host
     * replacing this object after its host died knows a client may still
     * take back what it stranded here (take_over_dead). */
    if (rc == 0 && ((const queue_header *)p)->persist == 1) {
        rc = rh__queue_persist_attach(q, fd, err);
    } else if (rc == 0) {
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
            q->lock_fd = fd;
    }
    if (q->lock_fd != fd)
        close(fd);
    if (rc != 0) {
        munmap(p, size);
        free(q);
        return rc;
    }
    queue_header *h = p;
    q->h = h;
    q->cells = (unsigned char *)h + sizeof(queue_header);
    q->map_size = size;
    q->capacity = h->capacity;
    q->mask = h->capacity - 1;
    q->payload_size = h->payload_size;
    q->slot_size = h->slot_size;
    q->fingerprint = h->fingerprint;
    q->cfg.struct_size = (uint32_t)sizeof q->cfg; /* rh_queue_config_of: the library's size */
    q->cfg.capacity = h->capacity;
    q->cfg.backpressure = (rh_backpressure)h->policy;
    q->cfg.block_timeout_ms = h->block_timeout_ms;
    q->cfg.dedup_window = h->dedup_window;
    q->cfg.ttl_ms = h->ttl_ms;
    q->cfg.shared = 1;
    /* Read once: a client sending to a persist queue must wait for acks
     * too, or it would overwrite a message a kernel has not finished. */
    q->persist = h->persist == 1;
    q->cfg.persist = q->persist;
    q->free_tail = q->persist ? &h->acked : &h->cons_tail;
    /* Copied, so a later scribble on the header cannot unterminate them. */
    memcpy(q->name, h->name, sizeof q->name);
    memcpy(q->type_name, h->type_name, sizeof q->type_name);
    memcpy(q->type_origin, h->type_origin, sizeof q->type_origin);
    *out = q;
    return 0;
}

int rh_queue_bind_type(rh_queue *q, const rh_type *type, rh_error *err)
{
    if (!q || !type || !type->name)
        return rh_error_set(err, RH_EINVAL, "rh_queue_bind_type: queue and type are required");
    if (type->fingerprint != q->fingerprint || type->size != q->payload_size)
        return rh_error_set(err, RH_ETYPE,
                            "queue \"%s\" carries type \"%s\" (fingerprint %016llx, %u bytes), "
                            "not \"%s\" (fingerprint %016llx, %u bytes)",
                            q->name, q->type_name, (unsigned long long)q->fingerprint,
                            q->payload_size, type->name, (unsigned long long)type->fingerprint,
                            type->size);
    q->type = type;
    return 0;
}

void rh__queue_unlink(rh_queue *q)
{
    if (!q || !q->creator || !q->cfg.shared || q->cfg.persist)
        return; /* a persist queue outlives us: that is its point */
    /* Unlink only the object we created: if a newer host replaced it under
     * the same name, that one is not ours to remove. */
    int fd = shm_open(q->shm_name, O_RDONLY, 0);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_dev == q->shm_dev && st.st_ino == q->shm_ino)
            shm_unlink(q->shm_name);
        close(fd);
    }
}

void rh_queue_close(rh_queue *q)
{
    if (!q)
        return;
    rh__queue_loans_close(q); /* a loan not committed is published void, a peek released */
    rh__queue_heartbeat_stop(q); /* before the unmap: the heartbeat writes the header */
    rh__queue_dead_settle(q, 1); /* what is left in a dead host's object we replaced */
    munmap(q->h, q->map_size);
    rh__queue_unlink(q);
    if (q->lock_fd >= 0)
        close(q->lock_fd); /* releases the flock: the next launch may recover it */
    free(q);
}
