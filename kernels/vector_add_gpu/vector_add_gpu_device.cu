/*
 * vector_add_gpu_device.cu — vector_add on the GPU: a warp per request
 * (lanes = 32), each lane computing every 32nd element, with the same
 * answers as the CPU kernel (kernels/vector_add/vector_add.c): IEEE 754
 * arithmetic, and a length mismatch or an unknown op answered with
 * success = false and the same error text.
 */
#include "ringhost/device.cuh"
#include "vector_add_request.h"
#include "vector_add_response.h"

/* snprintf is not in device code: the few texts the kernel writes. */
__host__ __device__ static uint32_t put_str(char *dst, uint32_t at, uint32_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        dst[at++] = *s++;
    dst[at] = '\0';
    return at;
}

__host__ __device__ static uint32_t put_u32(char *dst, uint32_t at, uint32_t cap, uint32_t v)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && at + 1 < cap)
        dst[at++] = digits[--n];
    dst[at] = '\0';
    return at;
}

__host__ __device__ int vector_add_gpu(rh_dev_msg *m)
{
    const vector_add_request *rq = (const vector_add_request *)m->data;
    vector_add_response *rs =
        (vector_add_response *)rh_dev_emit(m, 0, (uint32_t)sizeof(vector_add_response));
    if (!rs)
        return rh_dev_fail(m, "vector_add_gpu: the response does not fit the output type");
    uint32_t n = rq->a_len, lane = m->lane, lanes = m->lanes;
    uint32_t cap = (uint32_t)sizeof rs->error;
    if (rq->a_len != rq->b_len || n > VECTOR_ADD_REQUEST_A_MAX ||
        rq->op > VECTOR_ADD_REQUEST_OP_DIV) {
        if (lane == 0) {
            uint32_t at = 0;
            if (rq->a_len != rq->b_len) {
                at = put_str(rs->error, at, cap, "length mismatch: a has ");
                at = put_u32(rs->error, at, cap, rq->a_len);
                at = put_str(rs->error, at, cap, rq->a_len == 1 ? " element, b has "
                                                                : " elements, b has ");
                put_u32(rs->error, at, cap, rq->b_len);
            } else if (n > VECTOR_ADD_REQUEST_A_MAX) {
                at = put_str(rs->error, at, cap, "a has ");
                at = put_u32(rs->error, at, cap, n);
                at = put_str(rs->error, at, cap, " elements, more than ");
                put_u32(rs->error, at, cap, VECTOR_ADD_REQUEST_A_MAX);
            } else {
                at = put_str(rs->error, at, cap, "unknown op ");
                put_u32(rs->error, at, cap, (uint32_t)rq->op);
            }
            rs->result_len = 0;
            rs->success = false;
            rs->processed_elements = 0;
        }
        return 0;
    }
    const float *a = rq->a, *b = rq->b;
    float *r = rs->result;
    switch (rq->op) {
    case VECTOR_ADD_REQUEST_OP_ADD:
        for (uint32_t i = lane; i < n; i += lanes)
            r[i] = a[i] + b[i];
        break;
    case VECTOR_ADD_REQUEST_OP_SUB:
        for (uint32_t i = lane; i < n; i += lanes)
            r[i] = a[i] - b[i];
        break;
    case VECTOR_ADD_REQUEST_OP_MUL:
        for (uint32_t i = lane; i < n; i += lanes)
            r[i] = a[i] * b[i];
        break;
    default:
        for (uint32_t i = lane; i < n; i += lanes)
            r[i] = a[i] / b[i]; /* IEEE 754: b[i] == 0 gives +-inf or NaN */
        break;
    }
    if (lane == 0) {
        rs->result_len = n;
        rs->processed_elements = n;
        rs->success = true;
        rs->error[0] = '\0';
    }
    return 0;
}

RH_DEVICE_KERNEL(vector_add_gpu_loop, vector_add_gpu)
