/* bad_abi_minor.so: the same major, a minor newer than the host's (it may use
 * host functions this host lacks). */
#include "bad_plugin.h"

static const rh_kernel_desc desc = {
    .abi_major = RH_ABI_MAJOR,
    .abi_minor = RH_ABI_MINOR + 1,
    .struct_size = sizeof(rh_kernel_desc),
    BAD_PLUGIN_BODY("bad_abi_minor"),
    .process = bad_process,
};

RH_KERNEL_EXPORT(desc)
