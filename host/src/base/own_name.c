/*
 * own_name.c — a name of ours in a folder every user may write: the rule
 * is in own_name.h.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/own_name.h"

/* The number of entry `name` as a candidate of base (BASE<sep>N, N from 1
 * to RH_OWN_NAME_MAX_NUMBER written without leading zeros), or 0. */
static long candidate_number(const char *name, const char *base, size_t blen, char sep)
{
    if (strncmp(name, base, blen) != 0 || name[blen] != sep)
        return 0;
    const char *p = name + blen + 1;
    if (*p < '1' || *p > '9')
        return 0;
    long k = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || k > RH_OWN_NAME_MAX_NUMBER / 10)
            return 0;
        k = k * 10 + (*p - '0');
    }
    return k <= RH_OWN_NAME_MAX_NUMBER ? k : 0;
}

/* lstat of dir/name: 1 ours, 0 another user's (or not to be looked at),
 * -1 absent. */
static int whose(const char *dir, const char *name, uid_t *uid)
{
    char path[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return 0;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? -1 : 0;
    if (uid)
        *uid = st.st_uid;
    return st.st_uid == geteuid();
}

int rh__own_name(const char *dir, const char *base, char sep, int create, char *out,
                 size_t outlen, uid_t *foreign_uid)
{
    if (foreign_uid)
        *foreign_uid = (uid_t)-1;
    size_t blen = strlen(base);
    if (blen + RH_OWN_NAME_SUFFIX > outlen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(out, base, blen + 1);
    uid_t owner = (uid_t)-1;
    int at_base = whose(dir, base, &owner);
    if (at_base == 1)
        return 1; /* the usual case: ours, or nobody squats and it exists */
    if (at_base == 0 && foreign_uid)
        *foreign_uid = owner;
    /* BASE is absent or not ours: the lowest numbered candidate that is ours */
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long best = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        long k = candidate_number(de->d_name, base, blen, sep);
        if (k && (!best || k < best) && whose(dir, de->d_name, NULL) == 1)
            best = k;
    }
    closedir(d);
    if (best) {
        snprintf(out + blen, outlen - blen, "%c%ld", sep, best);
        return 1;
    }
    if (!create || at_base < 0)
        return 0; /* out holds BASE: absent (or, for a finder, not ours) */
    for (long k = 1; k <= RH_OWN_NAME_MAX_NUMBER; k++) {
        snprintf(out + blen, outlen - blen, "%c%ld", sep, k);
        if (whose(dir, out, NULL) < 0)
            return 0;
    }
    memcpy(out, base, blen + 1);
    errno = EEXIST;
    return -1;
}
