/*
 * plugin_load.h — one kernel shared object into this process, checked
 * (plugin_load.c).  Private to the plugin layer: plugin.c (the host's
 * loading) and plugin_scanner.c (the scanner child) share it.
 */
#ifndef RH_PLUGIN_LOAD_H
#define RH_PLUGIN_LOAD_H

#include "ringhost/kernel.h"
#include "ringhost/ringhost.h"

/* A file cut short (copied while still being written) maps pages past its
 * end, and the first touch of one is SIGBUS: the ELF headers of the file
 * open at fd must describe no byte past its end.  0, or RH_EPLUGIN naming
 * path.  A file that is not 64-bit ELF is left to dlopen to describe. */
int rh__plugin_check_extent(int fd, const char *path, rh_error *err);

/* dlopen load_path, resolve the entry, call it and check the descriptor;
 * messages name path.  What both the scanner child and the host run. */
int rh__plugin_load_at(const char *load_path, const char *path, void **handle,
                       const rh_kernel_desc **desc, rh_error *err);

/* Check a descriptor (what rh__plugin_load_at does after the entry call):
 * ABI version, struct_size, name, process xor run, ports and their types. */
int rh__plugin_check(const rh_kernel_desc *d, const char *path, rh_error *err);

/* The kernel's device code (ringhost/device.h), or NULL for a CPU kernel
 * or a descriptor older than ABI 1.1 (its struct_size does not cover it). */
const struct rh_device_kernel *rh__plugin_device(const rh_kernel_desc *d);

#endif
