/*
 * queue_persist.c — persistent queues: a shared queue marked persist is not
 * removed when its host closes it, and the next host that creates it (same
 * instance and name) takes it over with its messages instead of replacing
 * it.  It lives in /dev/shm, so it survives the host's exit, restart and
 * SIGKILL, but not a reboot.
 *
 * Who may use it: the host that created or recovered it holds an flock on
 * its shm fd until it closes it; the kernel drops the lock when the process
 * dies, however it dies.  So a launch that gets the lock knows no host uses
 * the queue, and that whatever its indices say was left by a dead one.
 * Clients (`ringhost send`/`recv`, C clients) hold a read lock on the
 * file's first byte while attached (an open-file-description lock, which
 * also dies with its process and does not meet the flock); a recovery in
 * place takes the write lock on that byte for its duration, so a client
 * cannot attach during it.  A recovery that cannot get it (clients still
 * attached: a host killed under them) does not rewind indices they may be
 * using: it moves the queue into a new object of the name and leaves them
 * theirs (move_under_clients).
 *
 * What a dead host leaves (the protocol is at the top of queue.c):
 *  - prod_head past prod_tail: claims never published.  Their senders never
 *    got success, so they are discarded: prod_head = prod_tail.
 *  - cons_tail / cons_head past acked: messages taken (by the input bridge,
 *    into a kernel ring that died with the process, or mid-copy by a
 *    consumer) but not finished.  They are delivered again: cons_head =
 *    cons_tail = acked.  At least once: the outputs of a batch the kernel
 *    had finished but whose ack had not been written may appear twice,
 *    with the same correlation id.
 * Every index is read from a file any process of the user may write, so it
 * is checked (acked <= cons_tail <= cons_head <= prod_tail <= prod_head <=
 * acked + capacity) before anything trusts it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_layout.h"

/* The way out the error messages give, for (instance, name, path). */
#define DISCARD_HINT "to discard it and its messages: ringhost purge --instance %s %s, or rm %s"

/* The instance part of q->shm_name ("/ringhost.<instance>:<name>"; ':' is
 * in neither alphabet), for the messages. */
static const char *instance_of(const rh_queue *q, char *buf, size_t len)
{
    const char *start = q->shm_name + sizeof("/" SHM_PREFIX) - 1;
    const char *colon = strchr(start, ':');
    snprintf(buf, len, "%.*s", colon ? (int)(colon - start) : 0, start);
    return buf;
}

/*
 * The cells of the claims a repair discards, [from, end): their writers (a
 * dead host's kernels writing answers in place, clients' loans) may have
 * filled them, and each is also the cell of the position a lap earlier,
 * whose id queue_recent.c reads as a message the queue accepted.  An
 * output bridge would then drop the redone answer to a redelivered input as
 * a repeat of an answer nobody ever received (seen: 2 or 3 answers of 4 000
 * lost over two SIGKILLs of two inline workers).  Their ids are cleared (a
 * zero id is never taken for a repeat); the old ids were overwritten
 * anyway.  Geometry from the header, checked (rh__queue_header_check).
 */
static void forget_unpublished(queue_header *h, uint32_t capacity, uint64_t from, uint64_t end)
{
    unsigned char *cells = (unsigned char *)h + sizeof(queue_header);
    for (uint64_t pos = from; pos != end; pos++) {
        cell *c = (cell *)(cells + (size_t)(pos & (capacity - 1)) * h->slot_size);
        memset(&c->env.id, 0, sizeof c->env.id);
    }
}

/*
 * Repair the indices a dead host left (see the top of this file), or say
 * why they describe no queue.  Returns the number of messages the queue
 * holds after the repair, or -1 with *why set.
 */
static int64_t repair_indices(queue_header *h, uint32_t capacity, const char **why)
{
    uint64_t acked = atomic_load_explicit(&h->acked, memory_order_acquire);
    uint64_t cons_tail = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
    uint64_t cons_head = atomic_load_explicit(&h->cons_head, memory_order_acquire);
    uint64_t prod_tail = atomic_load_explicit(&h->prod_tail, memory_order_acquire);
    uint64_t prod_head = atomic_load_explicit(&h->prod_head, memory_order_acquire);
    /* Differences from acked, so positions near 2^64 compare right. */
    uint64_t ct = cons_tail - acked, ch = cons_head - acked, pt = prod_tail - acked,
             ph = prod_head - acked;
    if (!(ct <= ch && ch <= pt && pt <= ph && ph <= capacity)) {
        *why = "its indices do not describe a queue (acked <= cons_tail <= cons_head <= "
               "prod_tail <= prod_head <= acked + capacity does not hold)";
        return -1;
    }
    forget_unpublished(h, capacity, prod_tail, prod_head);
    atomic_store_explicit(&h->prod_head, prod_tail, memory_order_relaxed);
    atomic_store_explicit(&h->cons_head, acked, memory_order_relaxed);
    atomic_store_explicit(&h->cons_tail, acked, memory_order_relaxed);
    /* The claims table (queue_loan.c) described claims the rewind above
     * undid: every loan and peek was a dead process's (no client is
     * attached during a recovery), every parked run is taken again. */
    memset(h->claims, 0, sizeof h->claims);
    atomic_store_explicit(&h->orphans, 0, memory_order_relaxed);
    atomic_store_explicit(&h->parked, 0, memory_order_relaxed);
    /* A parked waiter of the dead host would make every send ring a futex
     * for nobody; no one else waits yet (we hold the lock, no client may). */
    rh__bell_init(&h->not_empty, 1);
    rh__bell_init(&h->not_full, 1);
    return (int64_t)pt;
}

/* How long a client waits for a recovery in place to end (it takes
 * milliseconds: the indices are repaired, nothing is copied). */
#define ATTACH_WAIT_MS 2000
/* How long a recovery waits for attached clients to leave before it moves
 * the queue from under them instead (move_under_clients): a `ringhost
 * stat` polling a host that launches holds its lock for milliseconds. */
#define RECOVERY_WAIT_MS 200

/* The attachment lock (see the top): F_RDLCK for a client, F_WRLCK for a
 * recovery, F_UNLCK.  Retries for up to wait_ms while the other kind
 * holds it.  0, or -1 with errno (EAGAIN: the other kind still holds
 * it). */
static int attach_lock(int fd, short type, int wait_ms)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    for (int waited = 0;; waited += 10) {
        int rc = fcntl(fd, F_OFD_SETLK, &fl);
        if (rc == 0 || type == F_UNLCK || (errno != EAGAIN && errno != EACCES) ||
            waited >= wait_ms)
            return rc;
        struct timespec ts = rh_timespec_of_ns(10 * RH_NS_PER_MS);
        nanosleep(&ts, NULL);
    }
}

int rh__queue_persist_attach(rh_queue *q, int fd, rh_error *err)
{
    if (attach_lock(fd, F_RDLCK, ATTACH_WAIT_MS) != 0)
        return rh_error_set(err, RH_EEXIST,
                            "persist queue \"%s\": a host has been recovering it for %d ms "
                            "(%s); try again once it serves",
                            q->name, ATTACH_WAIT_MS,
                            errno == EAGAIN || errno == EACCES ? "it holds the queue"
                                                               : strerror(errno));
    q->lock_fd = fd;
    return 0;
}

/* Refuse a queue whose geometry or type is not the manifest's, saying what
 * is there, what was expected, and how to discard it. */
static int check_matches(const rh_queue *q, const queue_header *h, const rh_type *type,
                         const char *path, rh_error *err)
{
    char there[160], expected[160], inst[RH_QUEUE_NAME_MAX + 1];
    instance_of(q, inst, sizeof inst);
    if (h->fingerprint == type->fingerprint && h->payload_size == type->size &&
        h->capacity == q->capacity && h->persist == 1)
        return 0;
    snprintf(there, sizeof there, "type %s (fingerprint %016llx, %u bytes), capacity %u%s",
             h->type_name, (unsigned long long)h->fingerprint, h->payload_size, h->capacity,
             h->persist == 1 ? "" : ", not persist");
    snprintf(expected, sizeof expected,
             "type %s (fingerprint %016llx, %u bytes), capacity %u, persist", type->name,
             (unsigned long long)type->fingerprint, type->size, q->capacity);
    return rh_error_set(err, RH_ETYPE,
                        "persist queue \"%s\": %s from a previous run holds %s; expected %s. "
                        "Its messages are kept: launch with the settings it was created with, "
                        "or, " DISCARD_HINT,
                        q->name, path, there, expected, inst, q->name, path);
}

/* Settings that may change from one run to the next (they steer the host,
 * not the layout), and who created the queue now. */
static void adopt(rh_queue *q, queue_header *h)
{
    h->policy = (uint32_t)q->cfg.backpressure;
    h->block_timeout_ms = q->cfg.block_timeout_ms;
    h->dedup_window = q->cfg.dedup_window;
    h->ttl_ms = q->cfg.ttl_ms;
    h->creator_pid = (int32_t)getpid();
    h->creator_uid = (uint32_t)getuid();
    h->created_ns = rh__wall_ns();
    memcpy(h->type_origin, q->type_origin, sizeof h->type_origin);
}

/* "/dev/shm/ringhost.<instance>:<name>~moving": where move_under_clients
 * builds the new object before renaming it over the queue's name.  '~' is
 * in neither name's alphabet: no queue has that name, and rh_queue_list
 * never shows it. */
static void moving_path(const rh_queue *q, char *buf, size_t len)
{
    snprintf(buf, len, SHM_DIR "%s~moving", q->shm_name);
}

/* Create, reserve, lock and map a new object at path of size bytes: the
 * mapping, with *fd_out flocked; NULL with *code and err set. */
static queue_header *new_object(const rh_queue *q, const char *path, size_t size, int *fd_out,
                                int *code, rh_error *err)
{
    unlink(path); /* a mover that died before DONE left it half made */
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? errno : 0;
    if (!rc && (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0))
        rc = errno;
    if (!rc)
        rc = posix_fallocate(fd, 0, (off_t)size);
    if (!rc && flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno;
    void *p = rc ? MAP_FAILED : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (!rc && p == MAP_FAILED)
        rc = errno;
    if (rc) {
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        *code = rh_error_set(err, rc == ENOSPC ? RH_ENOMEM : RH_ESYS,
                     "persist queue \"%s\": cannot make %s (%zu bytes) to move the queue from "
                     "under its attached clients: %s",
                     q->name, path, size, strerror(rc));
        return NULL;
    }
    *fd_out = fd;
    return p;
}

/* Copy the cells of positions [from, end) from h's mapping to nh's (the
 * same positions: the same cells), in at most two runs. */
static void copy_cells(const queue_header *h, queue_header *nh, uint64_t from, uint64_t end)
{
    const unsigned char *src = (const unsigned char *)h + sizeof(queue_header);
    unsigned char *dst = (unsigned char *)nh + sizeof(queue_header);
    uint64_t cap = h->capacity, slot = h->slot_size;
    while (from != end) {
        uint64_t i = from & (cap - 1), n = end - from;
        if (n > cap - i)
            n = cap - i;
        memcpy(dst + i * slot, src + i * slot, n * slot);
        from += n;
    }
}

/*
 * Clients still hold the queue attached (their read locks), so its indices
 * cannot be rewound under them: a client mid-send would publish into cells
 * the next host hands out again.  So the queue moves instead, into a new
 * object of the same name, and the clients' object is left to them:
 *  1. moved = FENCING, seq_cst.  A client's send reads moved after its
 *     publish and its doorbell's seq_cst fence (rh_send): either it sees
 *     FENCING (and is stale from then on) or the load of prod_tail below
 *     sees its publish (and the copy has its message); never neither.
 *  2. The copy: the header and the cells of [acked, prod_tail), into
 *     <name>~moving, repaired as a recovery in place repairs (claims not
 *     published dropped, messages taken and not acked delivered again).
 *  3. Here, cons_head, cons_tail and acked move up to that prod_tail, and
 *     moved = DONE: what a stale client's rh_recv gives back from here
 *     (rh__queue_stale_recv) is exactly what it published after the copy,
 *     which no host will take.
 *  4. rename over the name: every attach from now on gets the new object.
 * A mover killed before DONE leaves the object under its name, still
 * FENCING: the next launch moves (or repairs) it again, whole.  One killed
 * between DONE and the rename leaves a whole copy at <name>~moving:
 * rh__queue_persist_open renames it over first.  Nothing a client claimed
 * and did not publish is copied half written: the copy ends at prod_tail.
 * 0 with *h_io, *fd_io, *st_io the new object's (the old mapping and fd
 * released) and *held_out the messages it holds; or an error, err set.
 */
static int move_under_clients(rh_queue *q, queue_header **h_io, size_t size, int *fd_io,
                              struct stat *st_io, const char *path, int64_t *held_out,
                              rh_error *err)
{
    queue_header *h = *h_io;
    char inst[RH_QUEUE_NAME_MAX + 1], moving[sizeof(SHM_DIR) + sizeof q->shm_name + 8];
    instance_of(q, inst, sizeof inst);
    moving_path(q, moving, sizeof moving);
    atomic_store_explicit(&h->moved, MOVE_FENCING, memory_order_seq_cst);
    uint64_t end = atomic_load_explicit(&h->prod_tail, memory_order_seq_cst);
    uint64_t acked = atomic_load_explicit(&h->acked, memory_order_acquire);
    uint64_t cons_tail = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
    if (end - acked > h->capacity || cons_tail - acked > end - acked)
        return rh_error_set(err, RH_EINVAL,
                     "persist queue \"%s\": %s: its indices do not describe a queue (acked <= "
                     "cons_tail <= prod_tail <= acked + capacity does not hold); " DISCARD_HINT,
                     q->name, path, inst, q->name, path);
    int nfd = -1, code = 0;
    queue_header *nh = new_object(q, moving, size, &nfd, &code, err);
    if (!nh)
        return code;
    memcpy(nh, h, sizeof *nh); /* fields clients may write are set again below */
    copy_cells(h, nh, acked, end);
    atomic_store_explicit(&nh->prod_head, end, memory_order_relaxed);
    atomic_store_explicit(&nh->prod_tail, end, memory_order_relaxed);
    atomic_store_explicit(&nh->cons_head, acked, memory_order_relaxed);
    atomic_store_explicit(&nh->cons_tail, acked, memory_order_relaxed);
    atomic_store_explicit(&nh->acked, acked, memory_order_relaxed);
    atomic_store_explicit(&nh->moved, MOVE_NONE, memory_order_relaxed);
    const char *why = NULL;
    int64_t held = repair_indices(nh, nh->capacity, &why); /* claims, bells: as in place */
    /* The clients' object: what is left in it reached no host. */
    _Atomic uint64_t *idx[] = {&h->cons_head, &h->cons_tail, &h->acked};
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++) {
        uint64_t cur = atomic_load_explicit(idx[i], memory_order_relaxed);
        while ((int64_t)(end - cur) > 0 &&
               !atomic_compare_exchange_weak_explicit(idx[i], &cur, end, memory_order_release,
                                                      memory_order_relaxed))
            ;
    }
    atomic_store_explicit(&h->moved, MOVE_DONE, memory_order_release);
    rh_bell_ring(&h->not_full); /* a client blocked on it: it finds room and learns */
    rh_bell_ring(&h->not_empty);
    struct stat nst;
    if (held < 0 || fstat(nfd, &nst) != 0 || rename(moving, path) != 0) {
        int e = errno;
        munmap(nh, size);
        close(nfd);
        return rh_error_set(err, RH_ESYS,
                            "persist queue \"%s\": moving it from under its clients: %s",
                            q->name, held < 0 ? why : strerror(e));
    }
    munmap(h, size);
    close(*fd_io); /* its flock: nobody needs it, the name is the new object's */
    *h_io = nh;
    *fd_io = nfd;
    *st_io = nst;
    *held_out = held;
    return 0;
}

/* A mover killed between DONE and its rename (see move_under_clients) left
 * a whole copy at <name>~moving: put it under the name.  0, or err set. */
static int finish_move(const rh_queue *q, const char *path, rh_error *err)
{
    char moving[sizeof(SHM_DIR) + sizeof q->shm_name + 8], inst[RH_QUEUE_NAME_MAX + 1];
    moving_path(q, moving, sizeof moving);
    instance_of(q, inst, sizeof inst);
    if (rename(moving, path) == 0)
        return 0;
    return rh_error_set(err, RH_EINVAL,
                        "persist queue \"%s\": %s was moved to a new object by a host that died "
                        "before it was renamed, and %s is missing (%s); " DISCARD_HINT,
                        q->name, path, moving, strerror(errno), inst, q->name, path);
}

/* Open again: a move was finished (finish_move). */
#define OPEN_AGAIN 2

/* rh__queue_persist_open's one attempt (round 0, or 1 after finish_move):
 * 1, 0, < 0 as it, or OPEN_AGAIN. */
static int open_once(rh_queue *q, const rh_type *type, int round, rh_error *err)
{
    char path[sizeof(SHM_DIR) + sizeof q->shm_name], inst[RH_QUEUE_NAME_MAX + 1];
    snprintf(path, sizeof path, SHM_DIR "%s", q->shm_name);
    instance_of(q, inst, sizeof inst);
    /* O_NOFOLLOW | O_NONBLOCK: a link or a FIFO planted there is refused
     * below, not followed or waited on. */
    int fd = shm_open(q->shm_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return rh_error_set(err, RH_ESYS, "persist queue \"%s\": open %s: %s", q->name, path,
                            strerror(errno));
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = "cannot stat it";
    else if (st.st_uid != geteuid())
        why = "it is owned by another user";
    else if (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(queue_header))
        why = "it is not a ringhost queue (smaller than the header)";
    if (why) {
        close(fd);
        return rh_error_set(err, RH_EINVAL, "persist queue \"%s\": %s: %s; " DISCARD_HINT,
                            q->name, path, why, inst, q->name, path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return rh_error_set(err, RH_EEXIST,
                            "persist queue \"%s\": %s is in use by a running host (it holds "
                            "the queue's lock); stop it, or launch under another instance "
                            "name (--instance)",
                            q->name, path);
    }
    /* Attached clients (their read locks) do not stop a recovery: the queue
     * then moves from under them (move_under_clients). */
    int clients = 0;
    if (attach_lock(fd, F_WRLCK, RECOVERY_WAIT_MS) != 0) {
        int e = errno;
        if (e != EAGAIN && e != EACCES) {
            close(fd);
            return rh_error_set(err, RH_ESYS, "persist queue \"%s\": lock %s: %s", q->name,
                                path, strerror(e));
        }
        clients = 1;
    }
    size_t size = (size_t)st.st_size;
    queue_header *h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        int e = errno;
        close(fd);
        return rh_error_set(err, RH_ESYS, "persist queue \"%s\": mmap %s: %s", q->name, path,
                            strerror(e));
    }
    rh_error why_err;
    int rc = rh__queue_header_check(h, size, q->name, &why_err);
    if (rc != 0)
        rc = rh_error_set(err, RH_EINVAL,
                          "persist queue \"%s\": %s is not a queue this build can recover (%s); "
                          DISCARD_HINT, q->name, path, why_err.msg, inst, q->name, path);
    else
        rc = check_matches(q, h, type, path, err);
    if (rc == 0 && atomic_load(&h->moved) == MOVE_DONE) {
        /* its copy is whole at <name>~moving: rename it, open that */
        rc = round == 0 ? finish_move(q, path, err)
                        : rh_error_set(err, RH_EINVAL, "persist queue \"%s\": %s stays moved",
                                       q->name, path);
        munmap(h, size);
        close(fd);
        return rc != 0 ? rc : OPEN_AGAIN;
    }
    int64_t held = 0;
    if (rc == 0 && clients) {
        rc = move_under_clients(q, &h, size, &fd, &st, path, &held, err);
    } else if (rc == 0) {
        held = repair_indices(h, h->capacity, &why);
        if (held < 0)
            rc = rh_error_set(err, RH_EINVAL, "persist queue \"%s\": %s: %s; " DISCARD_HINT,
                              q->name, path, why, inst, q->name, path);
        /* a mover killed while FENCING: no client is left to fence */
        atomic_store(&h->moved, MOVE_NONE);
    }
    if (rc != 0) {
        munmap(h, size);
        close(fd);
        return rc;
    }
    /* What it found: whose it was, how old, when that
     * host last beat, and what it carries over.  Printed only; every value
     * is from a file anyone of the user may write. */
    int64_t now = rh__wall_ns();
    int64_t beat = atomic_load(&h->heartbeat_ns);
    rh__log_event(NULL, RH_LOG_INFO, "queue.taken_over",
                  "queue=%s object=%s previous_host_pid=%d created_age_s=%lld "
                  "last_heartbeat_age_s=%lld carried=%lld corrupt_marks_cleared=%u "
                  "moved_from_attached_clients=%d",
                  q->name, path, (int)h->creator_pid,
                  h->created_ns > 0 ? (long long)((now - h->created_ns) / 1000000000) : -1LL,
                  beat > 0 ? (long long)((now - beat) / 1000000000) : -1LL, (long long)held,
                  (unsigned)(atomic_load(&h->corrupt_sides) & 3u), clients);
    /* repair_indices left indices a queue can work from (no claim held,
     * consumers rewound to acked): whatever stalled before is gone, so the
     * marks go too (the counter stays, for the record). */
    atomic_store(&h->corrupt_sides, 0);
    adopt(q, h);
    if (!clients)
        attach_lock(fd, F_UNLCK, 0); /* recovered: clients may attach */
    q->h = h;
    q->cells = (unsigned char *)h + sizeof(queue_header);
    q->map_size = size;
    q->free_tail = &h->acked;
    q->lock_fd = fd;
    q->shm_dev = st.st_dev;
    q->shm_ino = st.st_ino;
    q->recovered = 1;
    q->carried = (uint64_t)held;
    rh__queue_stats_read(q, &q->base);
    return 1;
}

int rh__queue_persist_open(rh_queue *q, const rh_type *type, rh_error *err)
{
    int rc = open_once(q, type, 0, err);
    return rc == OPEN_AGAIN ? open_once(q, type, 1, err) : rc;
}

/*
 * Before a launch that does not declare q persist replaces a leftover of
 * its name: refuse if it is a persist queue that still holds messages (the
 * manifest lost its "persist", or names another instance's queue by
 * mistake); replacing it would discard them silently.  0, or RH_EEXIST.
 */
int rh__queue_persist_guard(const rh_queue *q, rh_error *err)
{
    int fd = shm_open(q->shm_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    struct stat st;
    uint64_t held = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (size_t)st.st_size >= sizeof(queue_header)) {
        const queue_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
        if (h != MAP_FAILED) {
            if (atomic_load(&h->magic) == QUEUE_MAGIC &&
                h->layout_version == QUEUE_LAYOUT_VERSION && h->persist == 1) {
                held = atomic_load(&h->prod_tail) - atomic_load(&h->acked);
                if (held > RH_QUEUE_CAPACITY_MAX) /* garbage indices: nothing to keep */
                    held = 0;
            }
            munmap((void *)h, sizeof *h);
        }
    }
    close(fd);
    if (!held)
        return 0;
    char path[sizeof(SHM_DIR) + sizeof q->shm_name], inst[RH_QUEUE_NAME_MAX + 1];
    snprintf(path, sizeof path, SHM_DIR "%s", q->shm_name);
    instance_of(q, inst, sizeof inst);
    return rh_error_set(err, RH_EEXIST,
                        "persist queue \"%s\": %s holds %llu message(s) from a previous run, "
                        "and this launch does not declare the queue persist; declare "
                        "\"persist\": true to carry on from them, or, " DISCARD_HINT,
                        q->name, path, (unsigned long long)held, inst, q->name, path);
}

/* ------------------------------------------------------- accessors --- */

int rh__queue_is_persist(const rh_queue *q)
{
    return q && q->persist;
}

int rh__queue_recovered(const rh_queue *q, uint64_t *carried)
{
    if (carried)
        *carried = q->recovered ? q->carried : 0;
    return q->recovered;
}

void rh__queue_stats_since_open(const rh_queue *q, rh_queue_stats *out)
{
    rh__queue_stats_read(q, out);
    if (!q->recovered)
        return;
    const rh_queue_stats *b = &q->base;
    /* The carried messages are counted as accepted by this run: they are
     * its to deliver.  base.enqueued includes them, so add them back. */
    out->enqueued = out->enqueued - b->enqueued + q->carried;
    out->dequeued -= b->dequeued;
    out->rejected -= b->rejected;
    out->dropped_oldest -= b->dropped_oldest;
    out->dropped_newest -= b->dropped_newest;
    out->duplicates -= b->duplicates;
    out->expired -= b->expired;
    out->invalid -= b->invalid;
    out->failed -= b->failed;
    out->dead_lettered -= b->dead_lettered;
}
