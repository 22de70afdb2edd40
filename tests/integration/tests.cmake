# Integration tests: each drives the real `ringhost` binary (RH_TEST_BINARY)
# as a child process (tests/support/proc.c) against the kernels the build
# writes to RH_TEST_PLUGIN_DIR.  All are named test_cli_* so that
# `ctest -R cli` runs exactly these.  Paths are relative to tests/.
set(RH_CLI_EXTRA support/proc.c integration/cli_common.c)

rh_add_test(test_cli_proc           integration/test_cli_proc.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 60)
rh_add_test(test_cli_vector_add     integration/test_cli_vector_add.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_queues         integration/test_cli_queues.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_manifest_errors integration/test_cli_manifest_errors.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_plugins        integration/test_cli_plugins.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_serve          integration/test_cli_serve.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_persist        integration/test_cli_persist.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_requests       integration/test_cli_requests.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_run            integration/test_cli_run.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_info           integration/test_cli_info.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 60)
rh_add_test(test_cli_hotswap        integration/test_cli_hotswap.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# rh_add_test (tests/CMakeLists.txt) makes each depend on ringhost and the plugins.
# `ringhost bench` execs ringhost-bench, built only with DPDK and ZeroMQ.
if(TARGET ringhost-bench)
  rh_add_test(test_cli_bench        integration/test_cli_bench.c
              LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
  add_dependencies(test_cli_bench ringhost-bench)
endif()
rh_add_test(test_cli_security       integration/test_cli_security.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)

# ---- dead letters and accounting (issue 4) ----
# The "failing" test kernel (tests/plugins/failing/failing.c) fails the
# messages whose text asks for it.  Its .so goes to <build>/test_plugins
# (never into plugins/); the tests name that folder as
# RH_TEST_BUILD_DIR "/test_plugins".
function(rh_add_failing_test_kernel)
  set(RINGHOST_PLUGIN_OUTPUT_DIR "${CMAKE_BINARY_DIR}/test_plugins")
  ringhost_add_kernel(failing SOURCES plugins/failing/failing.c
                      SCHEMAS ${CMAKE_SOURCE_DIR}/kernels/common/echo_message.json)
endfunction()
rh_add_failing_test_kernel()
rh_add_test(test_cli_dlq            integration/test_cli_dlq.c
            LIBS rh_queue PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
foreach(t test_cli_dlq test_dlq)
  if(TARGET ${t})
    add_dependencies(${t} failing)
  endif()
endforeach()

# ---- logs for operators (issue 5, item 5) ----
# RINGHOST_LOG=debug: every reactor thread logs its start with its binding
# and its exit with counts; RINGHOST_LOG=error silences them.
rh_add_test(test_cli_logs           integration/test_cli_logs.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)

# ---- kernel faults (issue 4, item 2) ----
# The "faulty" test kernel (tests/plugins/faulty/faulty.c) stalls or fails
# when a message asks it to; its .so goes to <build>/test_plugins.
function(rh_add_faulty_test_kernel)
  set(RINGHOST_PLUGIN_OUTPUT_DIR "${CMAKE_BINARY_DIR}/test_plugins")
  ringhost_add_kernel(faulty SOURCES plugins/faulty/faulty.c
                      SCHEMAS ${CMAKE_SOURCE_DIR}/kernels/common/echo_message.json)
endfunction()
rh_add_faulty_test_kernel()
rh_add_test(test_watchdog unit/test_watchdog.c LIBS rh_runtime EXTRA support/rt_fixture.c
            TIMEOUT 120)
add_dependencies(test_watchdog faulty)
# A kernel in its own process ("isolation": "process"): pause at a batch
# boundary, terminate alone, two workers, failed_batches.
rh_add_test(test_isolation unit/test_isolation.c LIBS rh_runtime EXTRA support/rt_fixture.c support/proc.c
            TIMEOUT 120)
add_dependencies(test_isolation faulty)
rh_add_test(test_cli_isolation      integration/test_cli_isolation.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
add_dependencies(test_cli_isolation faulty)
rh_add_test(test_cli_faults         integration/test_cli_faults.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
add_dependencies(test_cli_faults faulty)
# ---- a live host (issue 5, item 4) ----
# `ringhost run` serving a control socket (RINGHOST_RUNTIME_DIR points into
# the test's folder): ps, the kernel verbs, launch into the running host,
# stat --prom, the socket's modes, malformed lines.
rh_add_test(test_cli_control        integration/test_cli_control.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_control_socket integration/test_cli_control_socket.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
