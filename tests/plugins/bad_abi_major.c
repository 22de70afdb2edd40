/* bad_abi_major.so: built against a future ABI major. */
#include "bad_plugin.h"

static const rh_kernel_desc desc = {
    .abi_major = RH_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(rh_kernel_desc),
    BAD_PLUGIN_BODY("bad_abi_major"),
    .process = bad_process,
};

RH_KERNEL_EXPORT(desc)
