/*
 * cuda_driver.h — the CUDA driver API, opened at run time (dlopen of
 * libcuda.so.1): ringhost never links CUDA, so a host without a GPU or a
 * driver runs every CPU manifest, and a manifest that asks for the GPU is
 * refused with the reason.  Only the calls the executor makes are here,
 * typed from the toolkit's cuda.h.
 */
#ifndef RH_CUDA_DRIVER_H
#define RH_CUDA_DRIVER_H

#include <cuda.h>
#include <stddef.h>

typedef struct rh_cuda {
    CUresult (*Init)(unsigned);
    CUresult (*DriverGetVersion)(int *);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*DeviceGetAttribute)(int *, CUdevice_attribute, CUdevice);
    CUresult (*DeviceGetPCIBusId)(char *, int, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice);
    CUresult (*DevicePrimaryCtxReset)(CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxSynchronize)(void);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamDestroy)(CUstream);
    CUresult (*StreamQuery)(CUstream);
    CUresult (*MemHostRegister)(void *, size_t, unsigned);
    CUresult (*MemHostUnregister)(void *);
    CUresult (*MemHostGetDevicePointer)(CUdeviceptr *, void *, unsigned);
    CUresult (*GetErrorName)(CUresult, const char **);
    CUresult (*GetErrorString)(CUresult, const char **);
} rh_cuda;

/* The driver, opened and initialised once per process (cuInit), with the
 * module loading eager (CUDA_MODULE_LOADING=EAGER unless the environment
 * says otherwise: lazy loading deadlocks against a running persistent
 * kernel).  NULL when it cannot be: *why (static text plus the driver's
 * words in buf) says why — "no CUDA driver (libcuda.so.1: ...)", "no CUDA
 * device", ... */
const rh_cuda *rh__cuda_open(char *why, size_t why_len);

/* "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered" */
const char *rh__cuda_strerror(const rh_cuda *cu, CUresult rc, char *buf, size_t len);

/* Why device `ordinal` cannot run a persistent kernel (a display GPU whose
 * kernel watchdog kills long kernels, WSL2, no mapped host memory), or NULL
 * when it can; its name and PCI bus id in name/bus. */
const char *rh__cuda_refusal(const rh_cuda *cu, int ordinal, char *name, size_t name_len,
                             char *bus, size_t bus_len);

#endif /* RH_CUDA_DRIVER_H */
