/*
 * vector_add_gpu — the VectorAdd kernel on the GPU (the device code is
 * vector_add_gpu_device.cu): the same ports, types and answers as
 * kernels/vector_add, a warp per request.  manifests/vector_add_gpu.json
 * runs it; it takes no config.
 */
#include "ringhost/device.h"
#include "ringhost/kernel.h"
#include "vector_add_request.h"
#include "vector_add_response.h"

static const rh_port inputs[] = {{.name = "requests", .type = &vector_add_request_type}};
static const rh_port outputs[] = {{.name = "responses", .type = &vector_add_response_type}};

const unsigned char *vector_add_gpu_device_fatbin_image(size_t *size);

static const rh_device_kernel vector_add_gpu_device = {
    RH_DEVICE_KERNEL_ABI,
    .lanes = 32,
    .platform = RH_DEVICE_CUDA,
    .image = vector_add_gpu_device_fatbin_image,
    .function = "vector_add_gpu_loop",
    .block_threads = 1024,
    .config_size = 0,
};

static const rh_kernel_desc vector_add_gpu_desc = {
    RH_KERNEL_ABI,
    .name = "vector_add_gpu",
    .version = "1.0.0",
    .description = "element-wise add, sub, mul or div of two f32 vectors, on the GPU",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .config_schema = "{}",
    .device = &vector_add_gpu_device,
};

RH_KERNEL_EXPORT(vector_add_gpu_desc)
