/* bad_no_entry.so: a valid descriptor, but the entry symbol is misspelt, so
 * dlsym("rh_kernel_entry") finds nothing. */
#include "bad_plugin.h"

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_no_entry"),
                                    .process = bad_process};

__attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry_v2(void);
__attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry_v2(void)
{
    return &desc;
}
