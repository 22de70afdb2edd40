/*
 * manifest_pvt.h — what the files of the manifest layer share: the loader
 * (manifest_load.c) hands a manifest's "defaults" and "queues" to
 * manifest_queues.c and its "kernels" to manifest_kernels.c, which hands
 * each kernel's fault keys to manifest_faults.c.
 */
#ifndef RH_MANIFEST_PVT_H
#define RH_MANIFEST_PVT_H

#include "base/json_check.h"
#include "manifest/manifest.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* "wait" names as written in manifests, indexed by rh_wait_kind
 * (manifest_queues.c). */
#define RH_MANIFEST_WAIT_COUNT 4
extern const char *const rh__manifest_wait_names[RH_MANIFEST_WAIT_COUNT];

/* manifest_queues.c: "defaults" (d, may be NULL) and "queues" (qs) into m,
 * defaults applied.  0 or RH_EMANIFEST. */
int rh__manifest_parse_defaults(const rh_json_doc *L, const json_t *d, rh_manifest *m);
int rh__manifest_parse_queues(const rh_json_doc *L, const json_t *qs, rh_manifest *m);

/* manifest_links.c: the "links" object (ls, may be NULL) into m->links,
 * and one queue's "export" / "import" (qv its object, qp its path; links
 * already read).  0 or RH_EMANIFEST. */
int rh__manifest_parse_links(const rh_json_doc *L, const json_t *ls, rh_manifest *m);
int rh__manifest_parse_queue_remote(const rh_json_doc *L, const json_t *qv, const char *qp,
                                    rh_manifest *m, rh_queue_decl *q);

/* manifest_kernels.c: the "kernels" array (ks) into m, defaults applied
 * (m->defaults_* already read).  0 or RH_EMANIFEST. */
int rh__manifest_parse_kernels(const rh_json_doc *L, const json_t *ks, rh_manifest *m);

/* manifest_faults.c: a kernel's "watchdog_ms", "restart" and "isolation" keys (kv the
 * kernel's object, kp its JSON path), defaults applied.  0 or RH_EMANIFEST. */
int rh__manifest_parse_faults(const rh_json_doc *L, const json_t *kv, const char *kp,
                              rh_kernel_decl *k);

#endif /* RH_MANIFEST_PVT_H */
