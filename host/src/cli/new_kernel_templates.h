/*
 * new_kernel_templates.h — the files of a new kernel folder (see
 * new_kernel_templates.c; used by cmd_new_kernel.c).
 */
#ifndef RH_NEW_KERNEL_TEMPLATES_H
#define RH_NEW_KERNEL_TEMPLATES_H

#include <stddef.h>

typedef struct rh_kernel_template {
    const char *file; /* file name, @NAME@ replaced too */
    const char *what; /* one line for the listing printed afterwards */
    const char *text; /* contents, @NAME@ standing for the kernel name */
} rh_kernel_template;

/* `new-kernel NAME`: a CPU kernel (new_kernel_templates.c). */
extern const rh_kernel_template rh__kernel_templates[];
extern const size_t rh__kernel_n_templates;
/* `new-kernel --cuda NAME`: a GPU kernel (new_kernel_templates_cuda.c). */
extern const rh_kernel_template rh__kernel_templates_cuda[];
extern const size_t rh__kernel_n_templates_cuda;

#endif /* RH_NEW_KERNEL_TEMPLATES_H */
