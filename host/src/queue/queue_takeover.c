/*
 * queue_takeover.c — a shared queue's name held by an object another host
 * left: whether that host lives (rh__queue_live_creator: then the name is
 * refused, queue_shm.c), and, when it died, what its death lost and what
 * stays queued, said where the operator reads it before the new object
 * takes the name (rh__queue_take_over_dead), and counted again once the
 * clients still attached to the old object took back what they could
 * (rh__queue_dead_settle).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_layout.h"

/* The pid of the live process that created the existing object of this
 * name, or 0 when there is none (no object, not a queue, creator gone). */
pid_t rh__queue_live_creator(const char *shm_name)
{
    int fd = shm_open(shm_name, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    struct stat st;
    pid_t pid = 0;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(queue_header)) {
        const queue_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
        if (h != MAP_FAILED) {
            if (atomic_load(&h->magic) == QUEUE_MAGIC && h->creator_pid > 0 &&
                h->creator_pid != getpid() && rh__queue_pid_alive(h->creator_pid))
                pid = h->creator_pid;
            munmap((void *)h, sizeof *h);
        }
    }
    close(fd);
    return pid;
}

/* Clamp a difference of positions read from a dead host's header (anyone
 * of the user may have written it) to what a queue of capacity can hold. */
static uint64_t clamp_count(uint64_t n, uint32_t capacity)
{
    return n > capacity ? capacity : n;
}

/*
 * A leftover of a host that died is about to be replaced: say what it was
 * (whose, how old, when its host last beat) and count what its death lost,
 * where the operator reads it (this line, and `ringhost stat` through the
 * new header's replaced line):
 *  - lost_in_host: what its input bridge had taken and its kernel not
 *    finished (cons_head - acked: the host marks acked on every shared
 *    input queue as it finishes, acks.c; less what stale clients took
 *    back before this start, taken_back, whose claims moved cons_head
 *    too); known when host_acks says a bridge acked it, else 0 (nobody
 *    consumed it in the host).  It may
 *    count the last burst whose answers had just been enqueued when the
 *    kill came (its ack is written at the bridge's next step).
 *  - queued_discarded: what was published and nobody took.  Clients still
 *    attached to the old object take back what they stranded there (rh_recv
 *    on their stale handle) and send it again, so that is not lost: while
 *    any is attached (its read lock), the count waits, the old object is
 *    kept and marked moved (their next send tells them at once), and
 *    rh__queue_dead_settle counts what is left once they are gone.
 * Every value is read from memory anyone of the user may have written:
 * clamped to the capacity, only counted and printed.
 */
void rh__queue_take_over_dead(rh_queue *q, const struct stat *st)
{
    int fd = shm_open(q->shm_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0)
        return;
    queue_header *h = NULL;
    if ((size_t)st->st_size >= sizeof(queue_header))
        h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int64_t now = rh__wall_ns();
    if (h == MAP_FAILED || !h || atomic_load(&h->magic) != QUEUE_MAGIC ||
        h->layout_version != QUEUE_LAYOUT_VERSION) {
        rh__log_event(NULL, RH_LOG_WARN, "queue.replaced",
                      "queue=%s object=" SHM_DIR "%s found=%s mtime_age_s=%lld", q->name,
                      q->shm_name, h && h != MAP_FAILED ? "other_layout_or_not_a_queue"
                                                        : "not_a_queue",
                      (long long)(now / 1000000000 - (int64_t)st->st_mtime));
        if (h && h != MAP_FAILED)
            munmap(h, sizeof *h);
        close(fd);
        return;
    }
    /* Attached clients learn at their next send (rh_send's check_moved),
     * not once the dead queue is full; seq_cst as the mover's (queue_persist.c). */
    atomic_store_explicit(&h->moved, MOVE_DONE, memory_order_seq_cst);
    uint32_t cap = h->capacity;
    uint64_t tail = atomic_load(&h->prod_tail), claimed = atomic_load(&h->cons_head);
    uint64_t acked = atomic_load(&h->acked);
    /* A message claimed in place (an inline bridge's kernel reads it in the
     * cell, [cons_tail, cons_head)) is the host's, not queued: counted once. */
    uint64_t queued = clamp_count(tail - claimed, cap);
    uint64_t back = atomic_load(&h->taken_back), held = claimed - acked;
    uint64_t lost = atomic_load(&h->host_acks) ? clamp_count(held > back ? held - back : 0, cap)
                                                : 0;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    int clients = fcntl(fd, F_OFD_SETLK, &fl) != 0;
    int64_t beat = atomic_load(&h->heartbeat_ns);
    char discarded[32];
    snprintf(discarded, sizeof discarded, clients ? "pending" : "%llu",
             (unsigned long long)queued);
    rh__log_event(NULL, RH_LOG_WARN, "queue.replaced",
                  "queue=%s object=" SHM_DIR "%s host_pid=%d host=gone created_age_s=%lld "
                  "last_heartbeat_age_s=%lld lost_in_host=%llu queued_discarded=%s "
                  "queued_at_takeover=%llu clients_attached=%d corrupt=%llu",
                  q->name, q->shm_name, (int)h->creator_pid,
                  h->created_ns > 0 ? (long long)((now - h->created_ns) / 1000000000) : -1LL,
                  beat > 0 ? (long long)((now - beat) / 1000000000) : -1LL,
                  (unsigned long long)lost, discarded, (unsigned long long)queued, clients,
                  (unsigned long long)atomic_load(&h->corrupt));
    q->dead_lost = lost;
    if (clients) {
        q->dead_h = h;
        q->dead_fd = fd;
        q->dead_queued = queued;
        q->dead_discarded = UINT64_MAX;
    } else {
        q->dead_discarded = queued;
        munmap(h, sizeof *h);
        close(fd);
    }
}

void rh__queue_dead_settle(rh_queue *q, int final)
{
    if (!q->dead_h)
        return;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    int clients = fcntl(q->dead_fd, F_OFD_SETLK, &fl) != 0;
    if (clients && !final)
        return;
    const queue_header *h = q->dead_h;
    uint64_t left = clamp_count(atomic_load(&h->prod_tail) - atomic_load(&h->cons_head),
                                h->capacity);
    rh__log_event(NULL, RH_LOG_WARN, "queue.discarded",
                  "queue=%s queued_discarded=%llu taken_back_by_clients=%llu "
                  "clients_still_attached=%d",
                  q->name, (unsigned long long)left,
                  (unsigned long long)(q->dead_queued > left ? q->dead_queued - left : 0),
                  clients);
    if (q->h)
        atomic_store_explicit(&q->h->replaced_discarded, left, memory_order_relaxed);
    munmap(q->dead_h, sizeof *q->dead_h);
    close(q->dead_fd);
    q->dead_h = NULL;
    q->dead_fd = -1;
}

