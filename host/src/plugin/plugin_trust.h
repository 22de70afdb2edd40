/*
 * plugin_trust.h — who may have written the code a host is about to run.
 *
 * dlopen runs a library's constructors with the host's rights before
 * anything can be checked, so the file is judged first, as OpenSSH's
 * StrictModes and sudo judge their files: the file, the folder that holds
 * it and every folder above it up to "/" must be owned by root or by the
 * host's own (effective) user and be writable by nobody else.  The path is
 * resolved once and walked with openat(O_NOFOLLOW) from "/", and the file
 * descriptor that was checked is what gets loaded (/proc/<pid>/fd/N), so
 * no rename or symlink swap can slip between the check and the load.
 *
 * Decisions (docs/RELIABILITY.md, "Security"):
 *  - group-writable is refused like world-writable, whoever owns it and
 *    whatever the group (setgid folders included): every member of the
 *    group could swap the code;
 *  - a folder that is sticky and owned by root or the host's user (/tmp)
 *    is accepted as an ancestor only: the sticky bit stops others from
 *    renaming or removing the folder below it that we own.  As the folder
 *    that holds the plugin it is refused (anyone may add files there);
 *  - an exception asked for explicitly (ringhost run --allow-plugin PATH)
 *    waives the owner and group checks of that one file, logged as a
 *    warning; world-writable is never waived.
 */
#ifndef RH_PLUGIN_TRUST_H
#define RH_PLUGIN_TRUST_H

#include "ringhost/ringhost.h"

/*
 * Open the plugin at path for loading after checking it and every folder
 * above it (and, when path goes through a symlink, the folder that holds
 * the name as given).  *fd_out gets a read-only O_CLOEXEC descriptor of the
 * regular file that was checked.  waive: the owner and group checks only
 * warn (an explicit --allow-plugin); what they would have refused is
 * written to waived (capacity waived_len, "" when nothing) for the caller
 * to log.  Returns 0, or RH_EPLUGIN with err->msg naming the plugin, the
 * path at fault, its owner or mode, and the fix.
 */
int rh__plugin_trusted_open(const char *path, int waive, char *waived, size_t waived_len,
                            int *fd_out, rh_error *err);

#endif /* RH_PLUGIN_TRUST_H */
