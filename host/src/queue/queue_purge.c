/*
 * queue_purge.c — `ringhost purge`: remove a queue's object that no host
 * uses (a persist queue's messages discarded on purpose, a leftover of a
 * host that is gone).  Refused while a host holds it: a persist queue's
 * host holds its flock; any other queue's creator is looked up by pid.
 * Only the user's own objects.
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
#include <unistd.h>

#include "queue/queue_layout.h"

/* A queue that is not persist is not locked by its host: its creator's
 * pid, when that process still runs, says it is in use. */
static pid_t live_creator(int fd, const struct stat *st)
{
    pid_t pid = 0;
    if (!S_ISREG(st->st_mode) || (size_t)st->st_size < sizeof(queue_header))
        return 0;
    const queue_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED)
        return 0;
    if (atomic_load(&h->magic) == QUEUE_MAGIC && h->persist != 1 && h->creator_pid > 0 &&
        h->creator_pid != getpid() && (kill(h->creator_pid, 0) == 0 || errno == EPERM))
        pid = h->creator_pid;
    munmap((void *)h, sizeof *h);
    return pid;
}

int rh__queue_purge(const char *instance, const char *name, rh_error *err)
{
    if (!rh_queue_name_valid(instance) || !rh_queue_name_valid(name))
        return rh_error_set(err, RH_EINVAL,
                            "instance \"%s\" / queue \"%s\": expected 1 to %d characters from "
                            "[A-Za-z0-9._-]", instance ? instance : "(null)",
                            name ? name : "(null)", RH_QUEUE_NAME_MAX);
    char shm_name[sizeof(((rh_queue *)0)->shm_name)];
    rh__queue_shm_name(instance, name, 0, shm_name, sizeof shm_name, NULL);
    int fd = shm_open(shm_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return errno == ENOENT
                   ? rh_error_set(err, RH_ENOENT, "no queue \"%s\" in instance \"%s\" (" SHM_DIR
                                  "%s does not exist)", name, instance, shm_name)
                   : rh_error_set(err, RH_ESYS, "queue \"%s\": open " SHM_DIR "%s: %s", name,
                                  shm_name, strerror(errno));
    struct stat st;
    int rc = 0;
    pid_t creator = 0;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid())
        rc = rh_error_set(err, RH_EINVAL, "queue \"%s\": " SHM_DIR "%s is not this user's",
                          name, shm_name);
    else if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = rh_error_set(err, RH_EEXIST,
                          "queue \"%s\": " SHM_DIR "%s is in use by a running host; stop it "
                          "first", name, shm_name);
    else if ((creator = live_creator(fd, &st)) != 0)
        rc = rh_error_set(err, RH_EEXIST,
                          "queue \"%s\": " SHM_DIR "%s belongs to a running host (pid %d); "
                          "stop it first", name, shm_name, (int)creator);
    else if (shm_unlink(shm_name) != 0)
        rc = rh_error_set(err, RH_ESYS, "queue \"%s\": unlink " SHM_DIR "%s: %s", name,
                          shm_name, strerror(errno));
    close(fd);
    return rc;
}

int rh__queue_remove_leftover(const char *instance, const char *name, uint64_t *queued,
                              int *pid)
{
    char shm_name[sizeof(((rh_queue *)0)->shm_name)];
    rh__queue_shm_name(instance, name, 0, shm_name, sizeof shm_name, NULL);
    int fd = shm_open(shm_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return 1;
    struct stat st;
    int kept = 1;
    if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && S_ISREG(st.st_mode) &&
        (size_t)st.st_size >= sizeof(queue_header) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        live_creator(fd, &st) == 0) {
        const queue_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
        if (h != MAP_FAILED) {
            /* a persist queue is recovered by the launch that declares it */
            if (atomic_load(&h->magic) == QUEUE_MAGIC && h->persist != 1 &&
                h->creator_pid > 0 && h->creator_pid != getpid()) {
                uint64_t tail = atomic_load(&h->prod_tail), head = atomic_load(&h->cons_tail);
                *queued = tail >= head ? tail - head : 0;
                *pid = h->creator_pid;
                kept = shm_unlink(shm_name) != 0;
            }
            munmap((void *)h, sizeof *h);
        }
    }
    close(fd);
    return kept;
}
