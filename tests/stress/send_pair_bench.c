/* send_pair_bench.c — one thread, a private queue: rh_send + rh_recv (burst 1) and
 * rh_send_burst + rh_recv_burst (32) in ns per message, the best of 15 runs of 2M.
 * A focused measure of what the producers' notes cost the copying send
 * (docs/PERFORMANCE.md has the command and the figures). */
#include <stdio.h>
#include <time.h>
#include "ringhost/ringhost.h"
typedef struct { unsigned long a[8]; } msg;
static const rh_type t = {.struct_size = sizeof(rh_type), .name = "b.m", .fingerprint = 7, .size = sizeof(msg), .align = 8};
static double now(void){struct timespec ts; clock_gettime(CLOCK_MONOTONIC,&ts); return ts.tv_sec*1e9+ts.tv_nsec;}
int main(void){
  rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 1024, .backpressure = RH_BP_REJECT);
  rh_queue *q; rh_error e;
  if (rh_queue_create("b", "b.q", &t, &cfg, NULL, &q, &e)) { puts(e.msg); return 1; }
  msg m = {{0}}, r[32]; rh_envelope envs[32];
  double best1 = 1e18, best32 = 1e18;
  for (int run = 0; run < 15; run++) {
    int N = 2000000; double t0 = now();
    for (int i = 0; i < N; i++) { rh_send(q, NULL, &m, sizeof m, NULL); rh_recv(q, NULL, &m, sizeof m, 0); }
    double d = (now() - t0) / N; if (d < best1) best1 = d;
    msg ms[32] = {{{0}}};
    t0 = now();
    for (int i = 0; i < N / 32; i++) { rh_send_burst(q, NULL, ms, sizeof ms[0], sizeof ms[0], 32, NULL); rh_recv_burst(q, envs, r, sizeof r[0], 32, 0); }
    d = (now() - t0) / (N / 32 * 32); if (d < best32) best32 = d;
  }
  printf("send+recv b1 %.1f ns/msg   burst32 %.2f ns/msg\n", best1, best32);
  return 0;
}
