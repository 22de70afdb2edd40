/*
 * own_name.h — a name of ours in a folder every user may write (/tmp for
 * the control socket's fallback folder, /dev/shm for shared queues).
 *
 * In such a folder another user can create any name first, and a name that
 * is theirs is neither opened nor removed by us (its bytes are theirs to
 * write; /tmp and /dev/shm are sticky).  So a name is a list of candidates,
 *   BASE, BASE<sep>1, BASE<sep>2, ...
 * and everyone who computes it takes the same one:
 *   - a client (find): the lowest-numbered candidate that exists and is
 *     ours (owned by this effective uid);
 *   - the creator (pick): the same, and when none is ours, the lowest
 *     candidate that does not exist.
 * A squatter therefore moves a host to the next number and never stops it;
 * the squatter's entries are left alone.  Numbers are found by listing the
 * folder, only when BASE itself is not ours, so the usual case (nobody
 * squats) costs one lstat.  A creator that loses a race for the picked
 * name (O_EXCL, mkdir) picks again.
 */
#ifndef RH_BASE_OWN_NAME_H
#define RH_BASE_OWN_NAME_H

#include <stddef.h>
#include <sys/types.h>

/* Largest candidate number tried (a squatter who made that many names has
 * filled the folder for everyone, which is another matter). */
#define RH_OWN_NAME_MAX_NUMBER 999999
/* Room a candidate needs past BASE: sep, 6 digits, NUL. */
#define RH_OWN_NAME_SUFFIX 8

/*
 * The candidate of dir/base (sep between base and its number) this user
 * should use, into out (outlen bytes: strlen(base) + RH_OWN_NAME_SUFFIX is
 * enough): the name only, not the folder.
 *   create 0 (find): 1 when an existing candidate is ours, 0 when none is
 *     (out then holds base, so that a caller's "does not exist" or "belongs
 *     to uid N" message names the usual name).
 *   create 1 (pick): 1 ours exists, 0 none exists and out is the lowest
 *     free candidate.
 * *foreign_uid (may be NULL): the owner of base when base is another
 * user's, else (uid_t)-1: for the caller to say why a number was used.
 * -1 with errno when dir cannot be read or out is too small.
 */
int rh__own_name(const char *dir, const char *base, char sep, int create, char *out,
                 size_t outlen, uid_t *foreign_uid);

#endif /* RH_BASE_OWN_NAME_H */
