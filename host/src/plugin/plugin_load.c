/*
 * plugin_load.c — one kernel shared object into this process: the ELF
 * extent check before dlopen, dlopen itself, the entry symbol, and the
 * checks of the descriptor it returns.  What both the scanner child
 * (plugin_scanner.c) and the host (plugin.c) run, so the two can never
 * disagree about what a valid plugin is.  No trust check and no lock here:
 * plugin.c calls these on a descriptor plugin_trust.c checked, under its
 * load lock.
 *
 * We dlopen with RTLD_NOW so unresolved symbols fail here, at load, with
 * dlerror()'s text, and not at the first call from a dispatch thread;
 * RTLD_LOCAL so two plugins' private symbols never collide.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/plugin_load.h"
#include "ringhost/device.h"

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

const struct rh_device_kernel *rh__plugin_device(const rh_kernel_desc *d)
{
    size_t end = offsetof(rh_kernel_desc, device) + sizeof d->device;
    return d && d->struct_size >= end ? d->device : NULL;
}

/* A device kernel's descriptor (ringhost/device.h): what the executor
 * relies on, checked once at load. */
static int check_device(const rh_device_kernel *dev, const char *path, const rh_kernel_desc *d,
                        rh_error *err)
{
    const char *why = NULL;
    if (d->process || d->run)
        why = "it also has process or run (a device kernel has neither)";
    else if (dev->struct_size < sizeof(rh_device_kernel))
        why = "its rh_device_kernel.struct_size is too small (RH_DEVICE_KERNEL_ABI)";
    else if (!dev->platform || strcmp(dev->platform, RH_DEVICE_CUDA) != 0)
        why = "its platform is not \"" RH_DEVICE_CUDA "\"";
    else if (!dev->image || !dev->function || !dev->function[0])
        why = "it has no image or no function";
    else if (dev->lanes != 1 && dev->lanes != 32)
        why = "its lanes is not 1 or 32";
    else if (dev->block_threads < 32 || dev->block_threads > 1024 || dev->block_threads % 32 ||
             dev->block_threads < dev->lanes)
        why = "its block_threads is not a multiple of 32 in 32..1024";
    if (why)
        return rh_error_set(err, RH_EPLUGIN, "%s: device kernel \"%s\": %s", path, d->name, why);
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
    const rh_device_kernel *dev = rh__plugin_device(d);
    if (dev) {
        int rc = check_device(dev, path, d, err);
        if (rc)
            return rc;
    } else if (!d->process == !d->run) {
        return rh_error_set(err, RH_EPLUGIN,
                            "%s: kernel \"%s\" must provide exactly one of process and run "
                            "(or device code) (%s)",
                            path, d->name, d->process ? "it has both" : "it has neither");
    }
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

/*
 * The loader maps a library's segments where its headers say, and a file
 * cut short (copied while still being written, a full disk) maps pages past
 * its end: the first touch of one is SIGBUS, in the host.  So before dlopen
 * the ELF headers are read and every loaded segment, and the header tables,
 * must lie inside the file.  A file that is not 64-bit ELF at all is left
 * to dlopen, which says what it is.
 */
int rh__plugin_check_extent(int fd, const char *path, rh_error *err)
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

/* dlerror's text begins with the file as it was opened ("/proc/self/fd/N:
 * ...", the descriptor the trust check judged), a name the user never
 * typed: the messages name the user's path already, so drop it. */
static const char *without_load_path(const char *why, const char *load_path)
{
    size_t n = strlen(load_path);
    if (why && n && strncmp(why, load_path, n) == 0 && why[n] == ':')
        why += n + 1 + (why[n + 1] == ' ');
    return why;
}

int rh__plugin_load_at(const char *load_path, const char *path, void **handle,
                       const rh_kernel_desc **desc, rh_error *err)
{
    dlerror();
    void *h = dlopen(load_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = without_load_path(dlerror(), load_path);
        return rh_error_set(err, RH_EPLUGIN, "%s: dlopen failed: %s", path,
                            why ? why : "unknown");
    }
    dlerror();
    void *sym = dlsym(h, RH_KERNEL_ENTRY_SYMBOL);
    const char *why = without_load_path(dlerror(), load_path);
    if (!sym || why) {
        rh_error_set(err, RH_EPLUGIN,
                     "%s: no entry symbol %s (%s); a kernel must use RH_KERNEL_EXPORT(desc)", path,
                     RH_KERNEL_ENTRY_SYMBOL, why ? why : "NULL");
        dlclose(h);
        return RH_EPLUGIN;
    }
    rh_kernel_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer, POSIX-style */
    const rh_kernel_desc *d = entry();
    if (rh__plugin_check(d, path, err) != 0) {
        dlclose(h);
        return RH_EPLUGIN;
    }
    *handle = h;
    *desc = d;
    return 0;
}
