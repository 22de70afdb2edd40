/*
 * plugin_trust.c — the StrictModes-style check of a plugin file and every
 * folder above it, and the descriptor that was checked (plugin_trust.h says
 * what is refused and why).
 *
 * The walk: realpath() once, then from "/" each component is opened with
 * openat(parent, name, O_PATH | O_NOFOLLOW) and fstat()ed through that
 * descriptor.  A component that became a symlink after realpath (a swap
 * racing us) fails with ELOOP and the file is refused; a component renamed
 * away fails with ENOENT.  Nothing is judged by name after it was opened,
 * so what was checked is what the caller loads.
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "plugin/plugin_trust.h"

/* What is being judged, for the messages. */
typedef struct trust_walk {
    const char *plugin;  /* the path the user gave */
    int waive;           /* owner and group checks only warn */
    char *waived;        /* what they would have refused */
    size_t waived_len;
    rh_error *err;
} trust_walk;

static const char *user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, len, "uid %u (%s)", (unsigned)uid, res->pw_name);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
    return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
    struct group gr, *res = NULL;
    char tmp[1024];
    if (getgrgid_r(gid, &gr, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, len, "gid %u (%s)", (unsigned)gid, res->gr_name);
    else
        snprintf(buf, len, "gid %u", (unsigned)gid);
    return buf;
}

/*
 * Who a POSIX access ACL on `at` lets write, for the message: with an ACL,
 * the group bits of st_mode are the ACL's mask, not the owning group's
 * permissions, so "group-writable, any member of that group" would name the
 * wrong people.  Reads the xattr the kernel keeps the ACL in
 * (system.posix_acl_access: a version word, then {tag, perm, id} entries,
 * little-endian, as acl_to_xattr writes them; no libacl needed).  Returns
 * 1 with the writers listed in buf ("user bob (uid 1001), group staff"),
 * 0 when `at` has no ACL (or it cannot be read: then the plain message).
 * Only read for a message, by name: what is judged is the fstat of the
 * walked descriptor.
 */
#define ACL_XATTR_VERSION 2u
#define ACL_TAG_USER 0x02u
#define ACL_TAG_GROUP_OBJ 0x04u
#define ACL_TAG_GROUP 0x08u
#define ACL_PERM_WRITE 0x02u

static int acl_writers(const char *at, char *buf, size_t len)
{
    unsigned char raw[4 + 8 * 64];
    ssize_t n = getxattr(at, "system.posix_acl_access", raw, sizeof raw);
    if (n < 4 || (n - 4) % 8 != 0 ||
        (raw[0] | raw[1] << 8 | raw[2] << 16 | (unsigned)raw[3] << 24) != ACL_XATTR_VERSION)
        return 0;
    size_t used = 0;
    buf[0] = '\0';
    for (ssize_t off = 4; off + 8 <= n; off += 8) {
        unsigned tag = raw[off] | raw[off + 1] << 8, perm = raw[off + 2] | raw[off + 3] << 8;
        unsigned id = raw[off + 4] | raw[off + 5] << 8 | raw[off + 6] << 16 |
                      (unsigned)raw[off + 7] << 24;
        if (!(perm & ACL_PERM_WRITE))
            continue;
        char who[160], name[128];
        if (tag == ACL_TAG_USER)
            snprintf(who, sizeof who, "user %s", user_name((uid_t)id, name, sizeof name));
        else if (tag == ACL_TAG_GROUP)
            snprintf(who, sizeof who, "group %s", group_name((gid_t)id, name, sizeof name));
        else if (tag == ACL_TAG_GROUP_OBJ)
            snprintf(who, sizeof who, "its owning group");
        else
            continue; /* the owner (judged above), the mask, others (mode o+w) */
        used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
                                 used ? ", " : "", who);
    }
    if (!used)
        snprintf(buf, len, "no entry yet (its mask allows write to any entry added)");
    return 1;
}

/* A refusal the walk may waive: refused (RH_EPLUGIN) or noted in waived. */
static int refuse_or_waive(trust_walk *w, const char *why)
{
    if (!w->waive)
        return rh_error_set(w->err, RH_EPLUGIN, "%s: refused: %s", w->plugin, why);
    if (w->waived && !w->waived[0])
        snprintf(w->waived, w->waived_len, "%s", why);
    return 0;
}

/*
 * Judge one node of the walk.  kind: "file" or "folder"; ancestor: a folder
 * above the one that holds the plugin (a sticky one we trust may be
 * writable by others there, see plugin_trust.h).
 */
static int judge(trust_walk *w, const struct stat *st, const char *kind, const char *at,
                 int ancestor)
{
    char who[128], why[1536];
    uid_t me = geteuid();
    int trusted_owner = st->st_uid == 0 || st->st_uid == me;
    int sticky_ok = ancestor && trusted_owner && (st->st_mode & S_ISVTX);
    unsigned mode = (unsigned)(st->st_mode & 07777);
    if ((st->st_mode & S_IWOTH) && !sticky_ok)
        return rh_error_set(w->err, RH_EPLUGIN,
                            "%s: refused: the %s %s is world-writable (mode %04o), so any user "
                            "could replace the code this host runs; fix: chmod o-w %s",
                            w->plugin, kind, at, mode, at);
    if (!trusted_owner) {
        char me_s[128];
        snprintf(why, sizeof why,
                 "the %s %s is owned by %s, not by root or this host's user (%s), so that user "
                 "could replace the code this host runs as %s; fix: chown %s %s (or keep plugins "
                 "in folders you own), or allow this one file with ringhost run --allow-plugin",
                 kind, at, user_name(st->st_uid, who, sizeof who),
                 user_name(me, me_s, sizeof me_s), me_s, me == 0 ? "root" : me_s, at);
        int rc = refuse_or_waive(w, why);
        if (rc)
            return rc;
    }
    if ((st->st_mode & S_IWGRP) && !sticky_ok) {
        char writers[512];
        if (acl_writers(at, writers, sizeof writers)) {
            snprintf(why, sizeof why,
                     "the %s %s has a POSIX ACL that lets %s write (mode %04o: with an ACL the "
                     "group bits are its mask), so they could replace the code this host runs; "
                     "see getfacl %s; fix: setfacl -b %s (drops the ACL) or setfacl -m m::rx %s",
                     kind, at, writers, mode, at, at, at);
            return refuse_or_waive(w, why);
        }
        snprintf(why, sizeof why,
                 "the %s %s is group-writable (mode %04o, group %s), so any member of that group "
                 "could replace the code this host runs; fix: chmod g-w %s",
                 kind, at, mode, group_name(st->st_gid, who, sizeof who), at);
        return refuse_or_waive(w, why);
    }
    return 0;
}

/*
 * Walk the folders of the absolute, resolved path dir from "/", judging
 * each; dir itself is the folder that holds the plugin (holder: 1) or an
 * ancestor of it.  Returns an O_PATH descriptor of dir (*out), or
 * RH_EPLUGIN.
 */
static int walk_folders(trust_walk *w, const char *dir, int holder, int *out)
{
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rh_error_set(w->err, RH_EPLUGIN, "%s: cannot open /: %s", w->plugin,
                            strerror(errno));
    char at[PATH_MAX] = "/";
    size_t at_len = 1;
    for (const char *p = dir;;) {
        while (*p == '/')
            p++;
        int is_last = *p == '\0';
        struct stat st;
        int rc = fstat(fd, &st) != 0
                     ? rh_error_set(w->err, RH_EPLUGIN, "%s: cannot stat %s: %s", w->plugin, at,
                                    strerror(errno))
                     : judge(w, &st, "folder", at, !(holder && is_last));
        if (rc || is_last) {
            if (rc)
                close(fd);
            else
                *out = fd;
            return rc;
        }
        size_t n = strcspn(p, "/");
        if (n > NAME_MAX || at_len + n + 2 > sizeof at) {
            close(fd);
            return rh_error_set(w->err, RH_EPLUGIN, "%s: path too long", w->plugin);
        }
        char name[NAME_MAX + 1];
        memcpy(name, p, n);
        name[n] = '\0';
        int next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (at_len > 1)
            at[at_len++] = '/';
        memcpy(at + at_len, name, n + 1);
        at_len += n;
        if (next < 0)
            return rh_error_set(w->err, RH_EPLUGIN,
                                "%s: refused: the folder %s changed while it was checked (%s); "
                                "try again, and find out who is renaming or relinking it",
                                w->plugin, at, strerror(e));
        fd = next;
        p += n;
    }
}

/* "dir" of "dir/name" ("/" for "/name"); path is absolute. */
static void folder_of(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (slash == path)
        snprintf(out, len, "/");
    else
        snprintf(out, len, "%.*s", (int)(slash - path), path);
}

int rh__plugin_trusted_open(const char *path, int waive, char *waived, size_t waived_len,
                            int *fd_out, rh_error *err)
{
    rh_error local;
    if (!err)
        err = &local;
    if (waived && waived_len)
        waived[0] = '\0';
    trust_walk w = {.plugin = path, .waive = waive, .waived = waived,
                    .waived_len = waived_len, .err = err};
    *fd_out = -1;
    char *real = realpath(path, NULL);
    if (!real) /* worded as before the walk existed: tools and testing.h users match it */
        return rh_error_set(err, RH_EPLUGIN, "%s: dlopen failed: cannot open %s: %s", path, path,
                            strerror(errno));

    /* The folder that holds the name as given, when a symlink leads
     * elsewhere: whoever can write there chooses what the name means. */
    char dir[PATH_MAX], given_dir[PATH_MAX];
    int rc = 0, dfd = -1, fd = -1;
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(given_dir, sizeof given_dir, "%.*s", slash == path ? 1 : (int)(slash - path),
                 path);
    else
        snprintf(given_dir, sizeof given_dir, ".");
    char *given_real = realpath(given_dir, NULL);
    folder_of(real, dir, sizeof dir);
    if (given_real && strcmp(given_real, dir) != 0) {
        if ((rc = walk_folders(&w, given_real, 1, &dfd)) != 0)
            goto out;
        close(dfd);
        dfd = -1;
    }
    if ((rc = walk_folders(&w, dir, 1, &dfd)) != 0)
        goto out;
    const char *base = strrchr(real, '/') + 1;
    /* O_NONBLOCK: a FIFO named *.so must not make us wait for a writer. */
    fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = rh_error_set(err, RH_EPLUGIN, "%s: refused: %s changed while it was checked (%s)",
                          path, real, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = rh_error_set(err, RH_EPLUGIN, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = rh_error_set(err, RH_EPLUGIN, "%s: refused: %s is not a regular file (mode %06o); "
                          "a plugin must be a regular .so file", path, real,
                          (unsigned)st.st_mode);
        goto out;
    }
    if ((rc = judge(&w, &st, "file", real, 0)) != 0)
        goto out;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    free(given_real);
    free(real);
    return rc;
}
