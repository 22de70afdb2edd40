/*
 * bench_kernel.h — what the benchmark's kernels (bench_echo.c,
 * bench_pong.c) share: each is built once per payload size N
 * (bench/kernels/CMakeLists.txt compiles it with BENCH_PAYLOAD=N), with
 * the generated type bench.pN of exactly N bytes on one input and one
 * output port, and a name "<kind>_pN" (BENCH_KERNEL_NAME("bench_echo")).
 */
#ifndef BENCH_KERNEL_H
#define BENCH_KERNEL_H

#include "ringhost/kernel.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define BENCH_HEADER STR(CAT(bench_p, BENCH_PAYLOAD).h)
#include BENCH_HEADER
#define BENCH_TYPE CAT(CAT(bench_p, BENCH_PAYLOAD), _type)
#define BENCH_KERNEL_NAME(kind) kind "_p" STR(BENCH_PAYLOAD)

_Static_assert(sizeof(CAT(bench_p, BENCH_PAYLOAD)) == BENCH_PAYLOAD,
               "the bench type is exactly BENCH_PAYLOAD bytes");

static const rh_port inputs[] = {{.name = "in", .type = &BENCH_TYPE}};
static const rh_port outputs[] = {{.name = "out", .type = &BENCH_TYPE}};

#endif /* BENCH_KERNEL_H */
