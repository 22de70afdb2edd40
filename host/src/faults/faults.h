/*
 * faults.h — the fault layer (faults/): the watchdog thread that notices a
 * stalled kernel (watchdog.c) and runs the executors' supervision (a
 * kernel process reaped and restarted, exec/exec_process.c).  The restart
 * policy both apply is the engine's (engine/restart.c).  Used by
 * runtime.c.
 */
#ifndef RH_FAULTS_H
#define RH_FAULTS_H

#include "exec/exec.h"

/* watchdog.c: start the watchdog thread when some kernel has watchdog_ms
 * (0, or RH_ESYS); stop and join it (idempotent). */
int rh__watchdog_start(rh_runtime *rt);
void rh__watchdog_stop(rh_runtime *rt);

#endif /* RH_FAULTS_H */
