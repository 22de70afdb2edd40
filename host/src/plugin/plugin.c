/*
 * plugin.c — loading and checking kernel shared objects.
 *
 * A plugin is untrusted in the sense that it may be stale, half-written or
 * built against another ABI: every check below turns such a file into a
 * reported reason instead of a crash.  A file that another user could have
 * written is refused before dlopen runs any of it (check_writers).  We dlopen with RTLD_NOW so unresolved
 * symbols fail here, at load, with dlerror()'s text, and not at the first
 * call from a dispatch thread; RTLD_LOCAL so two plugins' private symbols
 * never collide.
 */
#define _GNU_SOURCE /* memfd_create */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <dlfcn.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/grow.h"
#include "plugin/plugin.h"

/* The smallest descriptor any ABI-1 plugin can have: up to and including
 * fini, the last member of version 1.0.  A larger struct_size (a newer minor)
 * is fine; a smaller one means a truncated or foreign struct. */
#define RH_DESC_MIN_SIZE (offsetof(rh_kernel_desc, fini) + sizeof(((rh_kernel_desc *)0)->fini))

static int check_ports(const rh_port *ports, uint32_t n, const char *dir, const char *path,
                       const char *kname, rh_error *err)
{
    if (n > 0 && !ports)
        return rh_error_set(err, RH_EPLUGIN, "%s: kernel \"%s\": n_%s is %u but %s is NULL", path,
                            kname, dir, n, dir);
    for (uint32_t i = 0; i < n; i++) {
        const rh_port *p = &ports[i];
        if (!p->name || !p->name[0])
            return rh_error_set(err, RH_EPLUGIN, "%s: kernel \"%s\": %s[%u] has no name", path,
                                kname, dir, i);
        if (!p->type)
            return rh_error_set(err, RH_EPLUGIN, "%s: kernel \"%s\": %s port \"%s\" has no type",
                                path, kname, dir, p->name);
        if (!p->type->name || p->type->fingerprint == 0 || p->type->size == 0)
            return rh_error_set(err, RH_EPLUGIN,
                                "%s: kernel \"%s\": %s port \"%s\": type \"%s\" has no fingerprint "
                                "or size; generate message types with ringhost-gen",
                                path, kname, dir, p->name, p->type->name ? p->type->name : "?");
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(ports[j].name, p->name) == 0)
                return rh_error_set(err, RH_EPLUGIN,
                                    "%s: kernel \"%s\": duplicate %s port name \"%s\" (%s[%u] and "
                                    "%s[%u])",
                                    path, kname, dir, p->name, dir, j, dir, i);
    }
    return 0;
}

int rh__plugin_check(const rh_kernel_desc *d, const char *path, rh_error *err)
{
    if (!d)
        return rh_error_set(err, RH_EPLUGIN, "%s: %s() returned NULL", path,
                            RH_KERNEL_ENTRY_SYMBOL);
    if (d->abi_major != RH_ABI_MAJOR)
        return rh_error_set(err, RH_EPLUGIN,
                            "%s: ABI major %u, this host speaks %u; rebuild the plugin against "
                            "this host's ringhost/kernel.h",
                            path, d->abi_major, RH_ABI_MAJOR);
    if (d->abi_minor > RH_ABI_MINOR)
        return rh_error_set(err, RH_EPLUGIN,
                            "%s: ABI minor %u is newer than this host's %u.%u; upgrade the host "
                            "or rebuild the plugin against the older header",
                            path, d->abi_minor, RH_ABI_MAJOR, RH_ABI_MINOR);
    if (d->struct_size < RH_DESC_MIN_SIZE)
        return rh_error_set(err, RH_EPLUGIN,
                            "%s: descriptor struct_size %u is smaller than %zu, the ABI %u "
                            "minimum; set .struct_size = sizeof(rh_kernel_desc) (RH_KERNEL_ABI)",
                            path, d->struct_size, (size_t)RH_DESC_MIN_SIZE, RH_ABI_MAJOR);
    if (!d->name || !d->name[0])
        return rh_error_set(err, RH_EPLUGIN, "%s: descriptor has no name", path);
    if (!d->process == !d->run)
        return rh_error_set(err, RH_EPLUGIN,
                            "%s: kernel \"%s\" must provide exactly one of process and run (%s)",
                            path, d->name, d->process ? "it has both" : "it has neither");
    if (d->n_inputs + d->n_outputs == 0)
        return rh_error_set(err, RH_EPLUGIN, "%s: kernel \"%s\" declares no ports", path,
                            d->name);
    if (d->n_inputs > 16 || d->n_outputs > 16)
        return rh_error_set(err, RH_EPLUGIN, "%s: kernel \"%s\" declares more than 16 ports",
                            path, d->name);
    int rc = check_ports(d->inputs, d->n_inputs, "inputs", path, d->name, err);
    if (rc)
        return rc;
    return check_ports(d->outputs, d->n_outputs, "outputs", path, d->name, err);
}

/* "dir" of "dir/name" ("." for a bare name, "/" for "/name"). */
static void folder_of(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, len, ".");
    else if (slash == path)
        snprintf(out, len, "/");
    else
        snprintf(out, len, "%.*s", (int)(slash - path), path);
}

/* RH_EPLUGIN when `what` (a file or folder at path) is world-writable. */
static int refuse_if_world_writable(const char *plugin, const char *kind, const char *path,
                                    rh_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & S_IWOTH))
        return 0;
    return rh_error_set(err, RH_EPLUGIN,
                        "%s: refused: the %s %s is world-writable (mode %04o), so any user "
                        "could replace the code this host runs; fix: chmod o-w %s",
                        plugin, kind, path, (unsigned)(st.st_mode & 07777), path);
}

/*
 * dlopen runs a library's code (its constructors) before we can check
 * anything, with the host's rights: a plugin that another user could have
 * written must not get that far.  Refused: a world-writable file, or a
 * world-writable folder holding it (anyone may add or swap files there;
 * a sticky bit only stops deleting, not adding, so it does not help).
 * Both the path as given and, for a symlink, the file it resolves to are
 * checked.  Group-writable is left to the administrator.  A missing file
 * is left to dlopen, which says so.
 */
static int check_writers(const char *path, rh_error *err)
{
    char dir[PATH_MAX];
    int rc = refuse_if_world_writable(path, "file", path, err);
    if (rc)
        return rc;
    folder_of(path, dir, sizeof dir);
    if ((rc = refuse_if_world_writable(path, "folder", dir, err)))
        return rc;
    char *real = realpath(path, NULL);
    if (real && strcmp(real, path) != 0) {
        folder_of(real, dir, sizeof dir);
        rc = refuse_if_world_writable(path, "folder", dir, err);
    }
    free(real);
    return rc;
}

/*
 * The loader maps a library's segments where its headers say, and a file
 * cut short (copied while still being written, a full disk) maps pages past
 * its end: the first touch of one is SIGBUS, in the host.  So before dlopen
 * the ELF headers are read and every loaded segment, and the header tables,
 * must lie inside the file.  A file that is not 64-bit ELF at all is left
 * to dlopen, which says what it is.
 */
static int check_elf_extent(int fd, const char *path, rh_error *err)
{
    struct stat st;
    Elf64_Ehdr eh;
    if (fstat(fd, &st) != 0)
        return rh_error_set(err, RH_EPLUGIN, "%s: cannot stat: %s", path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
        return 0;
    uint64_t need = eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize;
    if (eh.e_shoff && eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > need)
        need = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
    for (uint32_t i = 0; need <= size && i < eh.e_phnum && eh.e_phentsize >= sizeof(Elf64_Phdr);
         i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
            (ssize_t)sizeof ph)
            break;
        if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > need)
            need = ph.p_offset + ph.p_filesz;
    }
    if (need > size)
        return rh_error_set(err, RH_EPLUGIN,
                            "%s: truncated: its ELF headers describe %llu bytes, the file has "
                            "%llu (was it copied while still being written?); copy the "
                            "complete file again",
                            path, (unsigned long long)need, (unsigned long long)size);
    return 0;
}

/* The same check on a file by its path (a missing file is left to dlopen). */
static int check_elf_extent_at(const char *path, rh_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc = check_elf_extent(fd, path, err);
    close(fd);
    return rc;
}

/* dlopen load_path (the file itself, or a private copy of it), resolve the
 * entry and check the descriptor; every message names `path`, the file the
 * user knows.  out->path is already set. */
static int load_checked(const char *load_path, const char *path, rh_plugin *out, rh_error *err)
{
    dlerror();
    void *h = dlopen(load_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        rh_error_set(err, RH_EPLUGIN, "%s: dlopen failed: %s", path, why ? why : "unknown");
        goto fail;
    }
    dlerror();
    void *sym = dlsym(h, RH_KERNEL_ENTRY_SYMBOL);
    const char *why = dlerror();
    if (!sym || why) {
        rh_error_set(err, RH_EPLUGIN,
                     "%s: no entry symbol %s (%s); a kernel must use RH_KERNEL_EXPORT(desc)", path,
                     RH_KERNEL_ENTRY_SYMBOL, why ? why : "NULL");
        dlclose(h);
        goto fail;
    }
    rh_kernel_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer, POSIX-style */
    const rh_kernel_desc *d = entry();
    if (rh__plugin_check(d, path, err) != 0) {
        dlclose(h);
        goto fail;
    }
    out->handle = h;
    out->desc = d;
    return 0;
fail:
    out->error = RH_EPLUGIN;
    snprintf(out->why, sizeof out->why, "%s", err->msg);
    return RH_EPLUGIN;
}

int rh__plugin_open(const char *path, rh_plugin *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    rh_error local;
    if (!err)
        err = &local;
    if (check_writers(path, err) != 0 || check_elf_extent_at(path, err) != 0) {
        out->error = RH_EPLUGIN;
        snprintf(out->why, sizeof out->why, "%s", err->msg);
        return RH_EPLUGIN;
    }
    return load_checked(path, path, out, err);
}

/*
 * glibc's dlopen hands back the library already loaded when the name, or
 * the file's device and inode, match one it has: loading a new build of a
 * running kernel's file by its name would return the old code.  So the
 * file's bytes are copied into a memfd (an anonymous file: no folder to
 * secure or clean up, no noexec mount to trip on, gone with the process)
 * and that is loaded through /proc/<pid>/fd/N.  The fd stays open as long
 * as the library is loaded: a later copy can then never reuse the same
 * name while this one is known to the loader.
 */
int rh__plugin_open_copy(const char *path, rh_plugin *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    rh_error local;
    if (!err)
        err = &local;
    int src = -1, fd = -1, rc = RH_EPLUGIN;
    if (check_writers(path, err) != 0)
        goto fail;
    if ((src = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rh_error_set(err, RH_EPLUGIN, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    if ((fd = memfd_create("ringhost-plugin", MFD_CLOEXEC)) < 0) {
        rc = rh_error_set(err, RH_ESYS, "%s: memfd_create for a private copy failed: %s", path,
                          strerror(errno));
        goto fail;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = rh_error_set(err, RH_ESYS, "%s: copying into a private copy: %s", path,
                                  strerror(errno));
                goto fail;
            }
            off += w;
        }
    if (n < 0) {
        rh_error_set(err, RH_EPLUGIN, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    close(src);
    src = -1;
    if (check_elf_extent(fd, path, err) != 0)
        goto fail;
    /* /proc/<pid>, not /proc/self: a symbolizer or debugger in another
     * process reads the library by the name the loader recorded. */
    char load_path[64];
    snprintf(load_path, sizeof load_path, "/proc/%d/fd/%d", (int)getpid(), fd);
    if (load_checked(load_path, path, out, err) != 0) {
        close(fd);
        return RH_EPLUGIN;
    }
    out->copied = 1;
    out->copy_fd = fd;
    return 0;
fail:
    if (src >= 0)
        close(src);
    if (fd >= 0)
        close(fd);
    out->error = RH_EPLUGIN;
    snprintf(out->why, sizeof out->why, "%s", err->msg);
    return rc;
}

void rh__plugin_close(rh_plugin *p)
{
    if (p->handle)
        dlclose(p->handle);
    if (p->copied)
        close(p->copy_fd);
    p->handle = NULL;
    p->desc = NULL;
    p->copied = 0;
}

/* One file of a set, from a private copy when the set asks for it. */
static int open_in_set(const rh_plugin_set *set, const char *path, rh_plugin *out,
                       rh_error *err)
{
    return set->private_copies ? rh__plugin_open_copy(path, out, err)
                               : rh__plugin_open(path, out, err);
}

static int ends_with_so(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rh__plugin_scan(rh_plugin_set *set, const char *dir, rh_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return rh_error_set(err, RH_ENOENT, "%s: cannot read plugin folder: %s", dir,
                            strerror(errno));
    char **names = NULL;
    uint32_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with_so(e->d_name))
            continue;
        if (rh_grow(&names, &cap, n + 1, sizeof *names))
            break;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    if (rh_grow(&set->items, NULL, set->n + n, sizeof *set->items)) {
        for (uint32_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rh_error_set(err, RH_ENOMEM, "%s: out of memory", dir);
    }
    for (uint32_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        open_in_set(set, path, &set->items[set->n++], NULL);
        free(names[i]);
    }
    free(names);
    return (int)n;
}

int rh__plugin_add(rh_plugin_set *set, const char *path, rh_error *err)
{
    if (rh_grow(&set->items, NULL, set->n + 1, sizeof *set->items))
        return rh_error_set(err, RH_ENOMEM, "%s: out of memory", path);
    return open_in_set(set, path, &set->items[set->n++], err);
}

void rh__plugin_set_free(rh_plugin_set *set)
{
    for (uint32_t i = 0; i < set->n; i++)
        rh__plugin_close(&set->items[i]);
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

/* "dir/libNAME.so" or "dir/NAME.so" matches NAME. */
static int stem_matches(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "lib", 3) == 0 && strncmp(base + 3, name, strlen(name)) == 0 &&
        strcmp(base + 3 + strlen(name), ".so") == 0)
        return 1;
    return strncmp(base, name, strlen(name)) == 0 && strcmp(base + strlen(name), ".so") == 0;
}

const rh_plugin *rh__plugin_find(const rh_plugin_set *set, const char *name)
{
    for (uint32_t i = 0; i < set->n; i++)
        if (set->items[i].desc && strcmp(set->items[i].desc->name, name) == 0)
            return &set->items[i];
    for (uint32_t i = 0; i < set->n; i++)
        if (set->items[i].desc && stem_matches(set->items[i].path, name))
            return &set->items[i];
    return NULL;
}

const rh_type *rh__plugin_find_type(const rh_plugin_set *set, const char *type_name,
                                    const char **origin)
{
    for (uint32_t i = 0; i < set->n; i++) {
        const rh_kernel_desc *d = set->items[i].desc;
        if (!d)
            continue;
        for (int dir = 0; dir < 2; dir++) {
            const rh_port *ports = dir ? d->outputs : d->inputs;
            uint32_t np = dir ? d->n_outputs : d->n_inputs;
            for (uint32_t j = 0; j < np; j++)
                if (strcmp(ports[j].type->name, type_name) == 0) {
                    if (origin)
                        *origin = set->items[i].path;
                    return ports[j].type;
                }
        }
    }
    return NULL;
}
