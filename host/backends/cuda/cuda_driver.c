/*
 * cuda_driver.c — libcuda.so.1 through dlopen (cuda_driver.h).
 *
 * Versioned names: cuda.h maps several calls to their _v2 symbols with
 * macros (cuMemHostRegister -> cuMemHostRegister_v2, ...); SYM() expands
 * the name before it makes it a string, so dlsym asks for the symbol the
 * header's prototype is.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_driver.h"

static rh_cuda cu;
static const rh_cuda *opened;
static char open_why[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define STR_(x) #x
#define STR(x) STR_(x)

static void *sym(void *lib, const char *name, int *missing)
{
    void *p = dlsym(lib, name);
    if (!p && !*missing) {
        *missing = 1;
        snprintf(open_why, sizeof open_why, "the CUDA driver lacks %s (too old a driver)", name);
    }
    return p;
}

#define SYM(field, name) cu.field = (__typeof__(cu.field))sym(lib, STR(name), &missing)

static void open_once(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(open_why, sizeof open_why, "no CUDA driver (%s)", dlerror());
        return;
    }
    int missing = 0;
    SYM(Init, cuInit);
    SYM(DriverGetVersion, cuDriverGetVersion);
    SYM(DeviceGetCount, cuDeviceGetCount);
    SYM(DeviceGet, cuDeviceGet);
    SYM(DeviceGetName, cuDeviceGetName);
    SYM(DeviceGetAttribute, cuDeviceGetAttribute);
    SYM(DeviceGetPCIBusId, cuDeviceGetPCIBusId);
    SYM(DevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain);
    SYM(DevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease);
    SYM(DevicePrimaryCtxReset, cuDevicePrimaryCtxReset);
    SYM(CtxSetCurrent, cuCtxSetCurrent);
    SYM(CtxSynchronize, cuCtxSynchronize);
    SYM(ModuleLoadData, cuModuleLoadData);
    SYM(ModuleUnload, cuModuleUnload);
    SYM(ModuleGetFunction, cuModuleGetFunction);
    SYM(LaunchKernel, cuLaunchKernel);
    SYM(StreamCreate, cuStreamCreate);
    SYM(StreamDestroy, cuStreamDestroy);
    SYM(StreamQuery, cuStreamQuery);
    SYM(MemHostRegister, cuMemHostRegister);
    SYM(MemHostUnregister, cuMemHostUnregister);
    SYM(MemHostGetDevicePointer, cuMemHostGetDevicePointer);
    SYM(GetErrorName, cuGetErrorName);
    SYM(GetErrorString, cuGetErrorString);
    if (missing)
        return; /* the library stays loaded: dlclose of a driver is not worth its risk */
    /* Before cuInit, which reads it.  A user's own setting wins. */
    setenv("CUDA_MODULE_LOADING", "EAGER", 0);
    CUresult rc = cu.Init(0);
    if (rc != CUDA_SUCCESS) {
        char e[160];
        snprintf(open_why, sizeof open_why, "the CUDA driver did not start: %s",
                 rh__cuda_strerror(&cu, rc, e, sizeof e));
        return;
    }
    int n = 0;
    if (cu.DeviceGetCount(&n) != CUDA_SUCCESS || n < 1) {
        snprintf(open_why, sizeof open_why, "no CUDA device (the driver sees none)");
        return;
    }
    opened = &cu;
}

const rh_cuda *rh__cuda_open(char *why, size_t why_len)
{
    pthread_once(&once, open_once);
    if (!opened && why)
        snprintf(why, why_len, "%s", open_why);
    return opened;
}

const char *rh__cuda_strerror(const rh_cuda *c, CUresult rc, char *buf, size_t len)
{
    const char *name = NULL, *text = NULL;
    if (c->GetErrorName)
        c->GetErrorName(rc, &name);
    if (c->GetErrorString)
        c->GetErrorString(rc, &text);
    snprintf(buf, len, "%s: %s", name ? name : "CUDA error", text ? text : "(no description)");
    return buf;
}

/* WSL2's kernel says so in its release string. */
static int on_wsl(void)
{
    FILE *f = fopen("/proc/sys/kernel/osrelease", "r");
    char line[256] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    return strstr(line, "microsoft") || strstr(line, "Microsoft") || strstr(line, "WSL");
}

const char *rh__cuda_refusal(const rh_cuda *c, int ordinal, char *name, size_t name_len,
                             char *bus, size_t bus_len)
{
    CUdevice dev;
    snprintf(name, name_len, "device %d", ordinal);
    snprintf(bus, bus_len, "?");
    int n = 0;
    if (c->DeviceGetCount(&n) != CUDA_SUCCESS || ordinal >= n)
        return "no such CUDA device";
    if (c->DeviceGet(&dev, ordinal) != CUDA_SUCCESS)
        return "the driver cannot open the device";
    c->DeviceGetName(name, (int)name_len, dev);
    c->DeviceGetPCIBusId(bus, (int)bus_len, dev);
    if (on_wsl())
        return "WSL2 is not supported (its GPU paravirtualisation serialises a persistent "
               "kernel with every other launch)";
    int timeout = 0, mapped = 0;
    c->DeviceGetAttribute(&timeout, CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT, dev);
    if (timeout)
        return "a display GPU with a kernel watchdog (a persistent kernel would be killed after "
               "a few seconds)";
    c->DeviceGetAttribute(&mapped, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, dev);
    if (!mapped)
        return "the device cannot map host memory";
    return NULL;
}
