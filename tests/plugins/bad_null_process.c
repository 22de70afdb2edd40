/* bad_null_process.so: neither process nor run. */
#include "bad_plugin.h"

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_null_process")};

RH_KERNEL_EXPORT(desc)
