/* error.c — RH_E* codes and the one way to format an error message. */
#include <stdarg.h>
#include <stdio.h>

#include "ringhost/ringhost.h"

const char *rh_strerror(int code)
{
    switch (code) {
    case RH_OK: return "success";
    case RH_EINVAL: return "invalid argument";
    case RH_ENOMEM: return "out of memory";
    case RH_EFULL: return "queue full (rejected)";
    case RH_EEMPTY: return "queue empty";
    case RH_ETIMEDOUT: return "timed out";
    case RH_EDROPPED: return "queue full (dropped newest)";
    case RH_ESTOPPED: return "host is stopping";
    case RH_ETYPE: return "message type mismatch";
    case RH_ENOENT: return "not found";
    case RH_EEXIST: return "already exists";
    case RH_ESYS: return "system call failed";
    case RH_ESTATE: return "illegal lifecycle transition";
    case RH_EPLUGIN: return "plugin failed to load";
    case RH_EMANIFEST: return "invalid manifest";
    case RH_EPLACE: return "impossible placement";
    case RH_ETOOBIG: return "message larger than the queue's slot";
    case RH_EINVALMSG: return "invalid message";
    case RH_ESTALE: return "queue's host is gone or was replaced (attach again)";
    case RH_ECORRUPT: return "queue indices corrupt (a claim stalled for good)";
    case RH_EBUSY: return "too many loans, peeks or sending threads on this queue at once";
    case RH_EREMOTE: return "remote link failed (NATS JetStream)";
    default: return "unknown error";
    }
}

int rh_error_set(rh_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}
