/* bad_struct_size.so: struct_size claims a descriptor that ends before init,
 * smaller than any ABI 1 descriptor. */
#include <stddef.h>

#include "bad_plugin.h"

static const rh_kernel_desc desc = {
    .abi_major = RH_ABI_MAJOR,
    .abi_minor = RH_ABI_MINOR,
    .struct_size = offsetof(rh_kernel_desc, init),
    BAD_PLUGIN_BODY("bad_struct_size"),
    .process = bad_process,
};

RH_KERNEL_EXPORT(desc)
