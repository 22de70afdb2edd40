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
# send/recv: required fields, all-or-nothing sends, unknown queues listed
rh_add_test(test_cli_messages       integration/test_cli_messages.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
rh_add_test(test_cli_run            integration/test_cli_run.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# stdout/stderr on a pipe whose reader is gone; --summary FILE
rh_add_test(test_cli_closed_pipe    integration/test_cli_closed_pipe.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# the GPU executor: refused with the reason without a GPU, the three
# VectorAdd cases as the CPU's with one; executors that do not fit a plugin
rh_add_test(test_cli_gpu            integration/test_cli_gpu.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
set_tests_properties(test_cli_gpu PROPERTIES LABELS gpu)
# --version, --help, help VERB, VERB --help
rh_add_test(test_cli_help           integration/test_cli_help.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
target_compile_definitions(test_cli_help PRIVATE RH_TEST_VERSION="${PROJECT_VERSION}")
add_dependencies(test_cli_help ringhost_docs) # it compares the built man page and completion
rh_add_test(test_cli_info           integration/test_cli_info.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 60)
rh_add_test(test_cli_hotswap        integration/test_cli_hotswap.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# builds swapped out are unloaded
rh_add_test(test_cli_hotswap_release integration/test_cli_hotswap_release.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# rh_add_test (tests/CMakeLists.txt) makes each depend on ringhost and the plugins.
# `ringhost bench` execs ringhost-bench, built only with DPDK and ZeroMQ.
if(TARGET ringhost-bench)
  rh_add_test(test_cli_bench        integration/test_cli_bench.c
              LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
  add_dependencies(test_cli_bench ringhost-bench)
  # --ab against this very build: the comparison's structure, not its speed
  rh_add_test(test_cli_bench_ab     integration/test_cli_bench_ab.c
              LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
  add_dependencies(test_cli_bench_ab ringhost-bench)
endif()
rh_add_test(test_cli_security       integration/test_cli_security.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)

# ---- dead letters and accounting ----
# (the "failing" test kernel: tests/CMakeLists.txt)
rh_add_test(test_cli_dlq            integration/test_cli_dlq.c
            LIBS rh_queue PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
add_dependencies(test_cli_dlq failing)

# ---- logs for operators ----
# RINGHOST_LOG=debug: every reactor thread logs its start with its binding
# and its exit with counts; RINGHOST_LOG=error silences them.
rh_add_test(test_cli_logs           integration/test_cli_logs.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)

# ---- kernel faults ----
# (the "faulty" test kernel: tests/CMakeLists.txt; test_watchdog and
# test_isolation, which drive it in-process: tests/unit/tests.cmake)
rh_add_test(test_cli_isolation      integration/test_cli_isolation.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
add_dependencies(test_cli_isolation faulty)
rh_add_test(test_cli_faults         integration/test_cli_faults.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
add_dependencies(test_cli_faults faulty)
# ---- a live host ----
# `ringhost run` serving a control socket (RINGHOST_RUNTIME_DIR points into
# the test's folder): ps, the kernel verbs, launch into the running host,
# stat --prom, the socket's modes, malformed lines.
rh_add_test(test_cli_control        integration/test_cli_control.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_control_socket integration/test_cli_control_socket.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# idle, trickling and half-sent clients never hold up ps or a scrape; the
# oldest idle connection makes room past the limit (200 of each here; the
# 1,000-client run is tests/stress/idle_clients.py)
rh_add_test(test_cli_idle_clients   integration/test_cli_idle_clients.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# launch/terminate cycles give back threads, fds, maps and shm
rh_add_test(test_cli_soak           integration/test_cli_soak.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 240)
rh_add_test(test_cli_release        integration/test_cli_release.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- readiness: --ready-fd, sd_notify, ringhost wait ----
rh_add_test(test_cli_ready          integration/test_cli_ready.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)

# ---- /metrics over HTTP, promtool, a real prometheus ----
rh_add_test(test_cli_metrics        integration/test_cli_metrics.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- latency: queue wait, kernel service time, thread polls in stat/prom/graph ----
rh_add_test(test_cli_latency        integration/test_cli_latency.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- recv --peek, dead letters by reason ----
rh_add_test(test_cli_peek           integration/test_cli_peek.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
add_dependencies(test_cli_peek failing)

# ---- kernel authors: ringhost/testing.h, the installed package ----
# ringhost/testing.h loading real plugin files, and its JSON comparison.
rh_add_test(test_testing_load integration/test_testing_load.c LIBS ringhost::testing TIMEOUT 60)

# Kernels built outside the tree against `cmake --install` of this build
# only (tests/integration/out_of_tree_common.sh): the example of
# examples/out_of_tree_kernel, and the folder `ringhost new-kernel` writes.
# Label "package".  They run in sanitizer builds too: the kernel is built
# with this build's -fsanitize flags, so host, harness and kernel are
# instrumented alike (an ASan harness library cannot link into a plain test,
# and an ASan plugin cannot load into a plain host).  `ctest -LE package`
# leaves them out.
get_directory_property(rh_pkg_cflags COMPILE_OPTIONS)
list(FILTER rh_pkg_cflags INCLUDE REGEX "^-f(no-)?sanitize|^-fno-omit-frame-pointer$")
get_directory_property(rh_pkg_ldflags LINK_OPTIONS)
list(FILTER rh_pkg_ldflags INCLUDE REGEX "^-f(no-)?sanitize")
string(JOIN " " rh_pkg_cflags ${rh_pkg_cflags})
string(JOIN " " rh_pkg_ldflags ${rh_pkg_ldflags})
function(rh_add_package_test NAME)
  if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/integration/${NAME}.sh)
    message(FATAL_ERROR "rh_add_package_test(${NAME}): script "
                        "${CMAKE_CURRENT_SOURCE_DIR}/integration/${NAME}.sh does not exist")
  endif()
  add_test(NAME ${NAME}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/${NAME}.sh
            ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${CMAKE_COMMAND} ${CMAKE_CTEST_COMMAND}
            "${rh_pkg_cflags}" "${rh_pkg_ldflags}")
  set_tests_properties(${NAME} PROPERTIES TIMEOUT 300 LABELS package)
endfunction()
rh_add_package_test(test_out_of_tree)
rh_add_package_test(test_new_kernel)
# Every build and link line of README.md and docs/*.md, read from the
# markdown's <!-- doc-test: ... --> markers, and systemd-analyze verify of
# docs/ringhost@.service (tests/integration/test_docs_commands.sh).
rh_add_package_test(test_docs_commands)
# `new-kernel --cuda`: a GPU kernel built with nvcc, its CPU test run
rh_add_package_test(test_new_kernel_cuda)
set_tests_properties(test_new_kernel_cuda PROPERTIES TIMEOUT 600)
# `make run`, then `cmake --install`; `make install` builds no test.
rh_add_package_test(test_install_after_run)
set_tests_properties(test_install_after_run PROPERTIES TIMEOUT 900)
# The installed shared libraries export the RH_API functions of the public
# headers and nothing else, and the kernels this tree builds export only
# rh_kernel_entry (tests/integration/test_exports.sh).
add_test(NAME test_exports
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_exports.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${CMAKE_COMMAND} ${CMAKE_CTEST_COMMAND}
          "${rh_pkg_cflags}" "${rh_pkg_ldflags}"
          ${RINGHOST_PLUGIN_OUTPUT_DIR} ${CMAKE_BINARY_DIR}/test_plugins)
set_tests_properties(test_exports PROPERTIES TIMEOUT 120 LABELS package)
# A program built against the installed libringhost.so (pkg-config and
# CMake) hosts this tree's echo kernel (tests/integration/test_embed_shared.sh).
add_test(NAME test_embed_shared
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_embed_shared.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${CMAKE_COMMAND} ${CMAKE_CTEST_COMMAND}
          "${rh_pkg_cflags}" "${rh_pkg_ldflags}" ${RINGHOST_PLUGIN_OUTPUT_DIR})
set_tests_properties(test_embed_shared PROPERTIES TIMEOUT 300 LABELS package)

# ---- plugins that crash, exit or hang while loading; FIFO manifests ----
rh_add_test(test_cli_plugin_scan    integration/test_cli_plugin_scan.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- plugins that behave in the scanner and crash, exit or hang in the host ----
rh_add_test(test_cli_plugin_liar    integration/test_cli_plugin_liar.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- another local user cannot keep a host from starting ----
# another user squats the control folder and the queue names of a root host
# and of a third user's (useradd, runuser, setpriv; a private /tmp and
# /dev/shm in a mount namespace): both hosts start and serve (needs root)
rh_add_test(test_cli_squat          integration/test_cli_squat.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)

# ---- a root host runs no plugin another user owns or could swap ----
rh_add_test(test_cli_plugin_trust   integration/test_cli_plugin_trust.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- answers lost without a trace ----
rh_add_test(test_cli_undeliverable  integration/test_cli_undeliverable.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# ---- clients of a persist queue across SIGKILLs: the take-back, a relaunch
# under attached clients ----
rh_add_test(test_cli_persist_clients integration/test_cli_persist_clients.c
            LIBS rh_queue rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# ---- what a SIGKILL of a host without persist loses is counted, and only that ----
rh_add_test(test_cli_kill_counts    integration/test_cli_kill_counts.c
            LIBS rh_queue rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
rh_add_test(test_cli_persist_answers integration/test_cli_persist_answers.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- a queue's host and indices ----
rh_add_test(test_cli_queue_health   integration/test_cli_queue_health.c
            LIBS rh_queue rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
# ---- slow is not dead: SCHED_IDLE producers beside stress-ng --cpu 2 (queue_notes.c);
# tests/stress/slow_producers.sh runs it for minutes ----
rh_add_test(test_cli_slow_producers integration/test_cli_slow_producers.c
            LIBS rh_queue rh_base PkgConfig::JANSSON Threads::Threads EXTRA ${RH_CLI_EXTRA}
            TIMEOUT 150)
# It starts its own stress-ng --cpu 2: alone, so the load it makes is the
# one it measures under, and no other test runs beside two cpu hogs.
set_tests_properties(test_cli_slow_producers PROPERTIES RUN_SERIAL TRUE)
# ---- a scribbled header: no replay, shown corrupt by stat, logged once ----
rh_add_test(test_cli_scribble integration/test_cli_scribble.c
            LIBS rh_queue rh_base PkgConfig::JANSSON Threads::Threads EXTRA ${RH_CLI_EXTRA}
            TIMEOUT 120)
# ---- zero-copy clients against a running host ----
rh_add_test(test_cli_loans          integration/test_cli_loans.c
            LIBS rh_queue rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# inspect, plugins --json, ringhost-gen --help
rh_add_test(test_cli_inspect        integration/test_cli_inspect.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 60)
add_dependencies(test_cli_inspect abi10 ringhost-gen)
# ringhost graph (DOT, -o X.svg through Graphviz, live labels)
rh_add_test(test_cli_graph          integration/test_cli_graph.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# stat in 80- and 120-column terminals (tmux)
rh_add_test(test_cli_stat_width     integration/test_cli_stat_width.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# control methods and save_config
rh_add_test(test_cli_introspect     integration/test_cli_introspect.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 120)
# launching into a live host as a new user does (swap, names, topo's plan)
rh_add_test(test_cli_launch_swap    integration/test_cli_launch_swap.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
add_dependencies(test_cli_launch_swap failing)
rh_add_test(test_cli_launch_names   integration/test_cli_launch_names.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
rh_add_test(test_cli_topo_plan      integration/test_cli_topo_plan.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 60)

# ---- what a new user types wrong: exit codes, messages that list what exists ----
rh_add_test(test_cli_exit_codes     integration/test_cli_exit_codes.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)

# ---- NATS JetStream, remote queues ----
# tests/support/nats_fixture.{c,h}: real nats-server processes on loopback
# ports of their own (bench/natsd.c runs each), stopped by pid at exit.  A
# test that uses it: LIBS NATS::nats, EXTRA ${RH_NATS_EXTRA}.
set(RH_NATS_EXTRA support/nats_fixture.c ../bench/natsd.c)
rh_add_test(test_nats_fixture       integration/test_nats_fixture.c
            LIBS NATS::nats EXTRA support/proc.c ${RH_NATS_EXTRA} TIMEOUT 180)
# The remote queues themselves: gateway and kernel hosts through one
# nats-server, sharing, SIGKILL and restart, bad links.
# integration/remote_common.{c,h}: the remote tests' manifests, hosts and
# client.
set(RH_REMOTE_EXTRA ${RH_CLI_EXTRA} integration/remote_common.c ${RH_NATS_EXTRA})
rh_add_test(test_cli_remote         integration/test_cli_remote.c
            LIBS rh_queue rh_base NATS::nats PkgConfig::JANSSON
            EXTRA ${RH_REMOTE_EXTRA} TIMEOUT 600)
# `make run-cluster` (tools/run_cluster.sh): the VectorAdd demo on a gateway and
# a kernel host through the nats-server the script starts; answers checked,
# nothing left running, also when a step fails.
rh_add_test(test_cli_cluster_demo   integration/test_cli_cluster_demo.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 600)
# 1,000,000 messages through two hosts: its own entry, so its
# time shows (~85 s; label "slow": `make test` runs it, `ctest -LE slow`
# leaves it out).  Plain builds only: under ASan and TSan it would take most
# of CI's time and prove nothing the 10,000-message run does not.
if(NOT RINGHOST_SANITIZE AND NOT RINGHOST_TSAN)
  add_test(NAME test_cli_remote_million COMMAND test_cli_remote)
  set_tests_properties(test_cli_remote_million PROPERTIES TIMEOUT 1800 LABELS slow
                       ENVIRONMENT RH_TEST_REMOTE_MILLION=1)
endif()
# The remote queues under faults: SIGKILL of a persist gateway, a
# nats-server restart, a cluster node killed, a dead server (label "slow":
# real servers and hosts started and stopped several times; `ctest` runs it).
rh_add_test(test_cli_remote_faults  integration/test_cli_remote_faults.c
            LIBS rh_queue rh_base NATS::nats PkgConfig::JANSSON
            EXTRA ${RH_REMOTE_EXTRA} TIMEOUT 300)
set_tests_properties(test_cli_remote_faults PROPERTIES LABELS slow)

# The bare GPU baselines (bench/gpu/): built wherever nvcc is, run
# everywhere: without a device they must say so and exit 0.  Label gpu:
# `ctest -L gpu` on a GPU machine runs every GPU test.
if(TARGET rh_bench_gpu)
  add_test(NAME test_bench_gpu
           COMMAND ${CMAKE_COMMAND} -DBIN=${CMAKE_BINARY_DIR}/ringhost-bench-gpu
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/integration/check_bench_gpu.cmake)
  set_tests_properties(test_bench_gpu PROPERTIES LABELS gpu TIMEOUT 180)
endif()
# send QUEUE - (JSON lines on stdin), recv --follow until SIGINT or its
# reader leaves, and the --json output of every verb that prints
rh_add_test(test_cli_shell_clients  integration/test_cli_shell_clients.c
            LIBS rh_base PkgConfig::JANSSON EXTRA ${RH_CLI_EXTRA} TIMEOUT 180)
