# FindNATS.cmake — the NATS C client (libnats-dev 3.4.1 on Debian), for the
# remote layer (host/src/remote/), its tests and the bench.
#
#   find_package(NATS [REQUIRED])
#
# defines NATS_FOUND, NATS_VERSION and the imported target NATS::nats
# (headers: #include <nats/nats.h>).  pkg-config's libnats.pc first (what
# Debian ships); without it, find_library(nats) + find_path(nats/nats.h), the
# version then read from nats/version.h.  One place: every target that talks
# to NATS links NATS::nats and nothing else.
#
# The server (nats-server, package nats-server) is not looked for here: the
# tests and the bench start it at run time (bench/natsd.c) and say clearly
# when it is missing.

include_guard(GLOBAL)
include(FindPackageHandleStandardArgs)

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_NATS QUIET libnats)
endif()

find_path(NATS_INCLUDE_DIR nats/nats.h HINTS ${PC_NATS_INCLUDE_DIRS})
find_library(NATS_LIBRARY NAMES nats HINTS ${PC_NATS_LIBRARY_DIRS})

if(PC_NATS_VERSION)
  set(NATS_VERSION ${PC_NATS_VERSION})
elseif(NATS_INCLUDE_DIR AND EXISTS "${NATS_INCLUDE_DIR}/nats/version.h")
  file(STRINGS "${NATS_INCLUDE_DIR}/nats/version.h" nats_version_line
       REGEX "^#define NATS_VERSION_STRING ")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" NATS_VERSION "${nats_version_line}")
endif()

find_package_handle_standard_args(NATS
  REQUIRED_VARS NATS_LIBRARY NATS_INCLUDE_DIR
  VERSION_VAR NATS_VERSION
  REASON_FAILURE_MESSAGE "install libnats-dev (.ci/deps.sh does)")

if(NATS_FOUND AND NOT TARGET NATS::nats)
  add_library(NATS::nats UNKNOWN IMPORTED)
  set_target_properties(NATS::nats PROPERTIES
    IMPORTED_LOCATION "${NATS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NATS_INCLUDE_DIR}")
endif()
mark_as_advanced(NATS_INCLUDE_DIR NATS_LIBRARY)
