/* bad_second_load.so: a valid plugin the first time a process tree loads
 * it, another one the second time: a host's scanner child, then the host.
 * Its constructor reads the file named by RH_TEST_SECOND_LOAD_MARK: when it
 * holds this process's pid, a child of ours loaded it already and the
 * descriptor says "bad_second_load" with an output port of another name;
 * otherwise it writes its parent's pid there and is the first kind.
 * Without the variable it is always the first kind. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bad_plugin.h"

static int second;

static void __attribute__((constructor)) count_loads(void)
{
    const char *mark = getenv("RH_TEST_SECOND_LOAD_MARK");
    if (!mark)
        return;
    FILE *f = fopen(mark, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid == (int)getpid()) {
        second = 1;
        return;
    }
    f = fopen(mark, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getppid());
        fclose(f);
    }
}

static const rh_port changed_outputs[] = {{.name = "elsewhere", .type = &bad_message_type}};

static const rh_kernel_desc first_desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_second_load"),
                                          .process = bad_process};
static const rh_kernel_desc second_desc = {
    RH_KERNEL_ABI,
    .name = "bad_second_load",
    .version = "0.0.0",
    .description = "the same file, describing itself differently",
    .inputs = bad_inputs,
    .n_inputs = 1,
    .outputs = changed_outputs,
    .n_outputs = 1,
    .process = bad_process,
};

__attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry(void);
__attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry(void)
{
    return second ? &second_desc : &first_desc;
}
