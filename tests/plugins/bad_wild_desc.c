/* bad_wild_desc.so: its entry returns a pointer to nowhere (an unmapped
 * address) instead of a descriptor; reading it faults. */
#include <stdint.h>

#include "bad_plugin.h"

__attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry(void);
__attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry(void)
{
    return (const rh_kernel_desc *)(uintptr_t)0x10;
}
