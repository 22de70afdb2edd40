# Unit tests, one per host module (tests/unit/test_<module>.c).
# Paths are relative to tests/.
rh_add_test(test_id        unit/test_id.c        LIBS rh_base)
rh_add_test(test_id_answer unit/test_id_answer.c LIBS rh_base)
rh_add_test(test_remote_wire unit/test_remote_wire.c LIBS rh_remote)
rh_add_test(test_wait      unit/test_wait.c      LIBS rh_base)
# the latency histogram: edges, quantiles, overflow, JSON, one writer and a reader
rh_add_test(test_hist      unit/test_hist.c      LIBS rh_base)
rh_add_test(test_ring      unit/test_ring.c      LIBS rh_ring)
# a ring's memory from the allocator passed in: heap, shared across fork
rh_add_test(test_ring_mem  unit/test_ring_mem.c  LIBS rh_ring)
# the engine's objects without a manifest, a plugin or a thread: init/fini,
# and one dispatch step driven by hand
rh_add_test(test_engine    unit/test_engine.c    LIBS rh_engine)
rh_add_test(test_queue     unit/test_queue.c     LIBS rh_queue)
rh_add_test(test_queue_burst unit/test_queue_burst.c LIBS rh_queue)
rh_add_test(test_manifest  unit/test_manifest.c  LIBS rh_manifest)
rh_add_test(test_placement unit/test_placement.c LIBS rh_base)
rh_add_test(test_plugin    unit/test_plugin.c    LIBS rh_plugin)
rh_add_test(test_plugin_scanner unit/test_plugin_scanner.c LIBS rh_plugin)
# the host's own loads on a guarded thread: liars that crash, exit or hang there
rh_add_test(test_plugin_guard unit/test_plugin_guard.c LIBS rh_plugin)
# ~30 s alone; beside stress-ng, a -j2 run and a sanitizer build it took
# past 120 s: the limit is the suite's 300
rh_add_test(test_runtime   unit/test_runtime.c   LIBS rh_runtime EXTRA support/rt_fixture.c
            TIMEOUT 300)
rh_add_test(test_queue_shm unit/test_queue_shm.c LIBS rh_queue)
# "structs that grow" (ringhost.h): structs of an older header's layout,
# each before a PROT_NONE page, through the real libringhost.so
rh_add_test(test_abi_growth unit/test_abi_growth.c LIBS ringhost_shared ${CMAKE_DL_LIBS})
rh_add_test(test_dlq       unit/test_dlq.c       LIBS rh_runtime EXTRA support/rt_fixture.c)
add_dependencies(test_dlq failing)
rh_add_test(test_queue_persist unit/test_queue_persist.c LIBS rh_queue Threads::Threads)
rh_add_test(test_queue_health unit/test_queue_health.c LIBS rh_queue)
# rh_queue_peek, the browser of `recv --peek`
rh_add_test(test_queue_peek unit/test_queue_peek.c LIBS rh_queue Threads::Threads)
# Loans and peeks, and the claims table behind them
rh_add_test(test_queue_loan unit/test_queue_loan.c LIBS rh_queue Threads::Threads)
# Slow is not dead: producers stopped or killed between claim and publish (queue_notes.c)
rh_add_test(test_queue_notes unit/test_queue_notes.c LIBS rh_queue Threads::Threads)
rh_add_test(test_log       unit/test_log.c       LIBS rh_base)
rh_add_test(test_kernel_life unit/test_kernel_life.c LIBS rh_runtime EXTRA support/rt_fixture.c)
rh_add_test(test_manifest_faults unit/test_manifest_faults.c LIBS rh_manifest)
# The control protocol in-process: requests against real
# runtimes, what a launch into a running host shares.
rh_add_test(test_control unit/test_control.c LIBS rh_control EXTRA support/rt_fixture.c)
rh_add_test(test_hotswap    unit/test_hotswap.c    LIBS rh_runtime EXTRA support/rt_fixture.c)
# ---- kernel faults, in-process, with the "faulty" test
# kernel (tests/CMakeLists.txt) ----
# The watchdog: stalls, failed batches in a row, restarts and giving up.
rh_add_test(test_watchdog unit/test_watchdog.c LIBS rh_runtime EXTRA support/rt_fixture.c
            TIMEOUT 120)
add_dependencies(test_watchdog faulty)
# A kernel in its own process ("isolation": "process"): pause at a batch
# boundary, terminate alone, two workers, failed_batches.
rh_add_test(test_isolation unit/test_isolation.c LIBS rh_runtime
            EXTRA support/rt_fixture.c support/proc.c TIMEOUT 120)
add_dependencies(test_isolation faulty)
# Every answer's envelope (ids derived from the input's, correlation, order)
# on each emit path, with the "fanout" test kernel.
rh_add_test(test_answers unit/test_answers.c LIBS rh_runtime EXTRA support/rt_fixture.c)
add_dependencies(test_answers fanout)

# ---- the ring's public layout (ringhost/ring_abi.h) as each compiler of
# this machine sees it: test_ring_abi.c built as strict C11, as C++17 (the
# same source through test_ring_abi.cpp) and, where nvcc is found, compiled
# as CUDA.  The C and C++ programs link the library's ring through
# ring_abi_host.c (plain C, the library's flags) and compare offsets and
# play both sides of a live ring; the CUDA compile checks the static
# asserts and a device consumer written against the layout.
add_library(ring_abi_host STATIC unit/ring_abi_host.c)
target_link_libraries(ring_abi_host PUBLIC rh_ring)
target_include_directories(ring_abi_host PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/unit)

add_executable(test_ring_abi_c unit/test_ring_abi.c)
target_link_libraries(test_ring_abi_c PRIVATE ring_abi_host)
set_target_properties(test_ring_abi_c PROPERTIES C_STANDARD 11 C_EXTENSIONS OFF)
target_compile_options(test_ring_abi_c PRIVATE -pedantic-errors)
add_test(NAME test_ring_abi_c COMMAND test_ring_abi_c)

# The GPU kernels' message types, for the tests that drive them
# (test_device_loop on the CPU, test_gpu_runtime on a GPU).
ringhost_generate(rh_device_loop_types ${CMAKE_CURRENT_BINARY_DIR}/device_loop_gen
  ${CMAKE_SOURCE_DIR}/kernels/common/echo_message.json
  ${CMAKE_SOURCE_DIR}/kernels/vector_add/vector_add_request.json
  ${CMAKE_SOURCE_DIR}/kernels/vector_add/vector_add_response.json)
add_library(rh_device_types STATIC ${rh_device_loop_types})
target_include_directories(rh_device_types PUBLIC ${CMAKE_CURRENT_BINARY_DIR}/device_loop_gen)
target_link_libraries(rh_device_types PUBLIC ringhost_headers PkgConfig::JANSSON)
# The GPU executor on a real GPU (label gpu; skipped without one).
rh_add_test(test_gpu_runtime gpu/test_gpu_runtime.c LIBS rh_runtime rh_device_types
            EXTRA support/rt_fixture.c TIMEOUT 900)
set_tests_properties(test_gpu_runtime PROPERTIES LABELS gpu)

include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER)
  enable_language(CXX)
  add_executable(test_ring_abi_cxx unit/test_ring_abi.cpp)
  target_link_libraries(test_ring_abi_cxx PRIVATE ring_abi_host)
  set_target_properties(test_ring_abi_cxx PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF)
  target_compile_options(test_ring_abi_cxx PRIVATE -pedantic-errors)
  add_test(NAME test_ring_abi_cxx COMMAND test_ring_abi_cxx)
  # The device loop (ringhost/device.cuh) and the GPU kernels' functions,
  # compiled for the host and driven on the CPU: no nvcc, no GPU needed.
  add_executable(test_device_loop unit/test_device_loop.cpp)
  target_link_libraries(test_device_loop PRIVATE rh_device_types rh_base PkgConfig::CMOCKA
                        Threads::Threads)
  set_target_properties(test_device_loop PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF)
  add_test(NAME test_device_loop COMMAND test_device_loop)
  set_tests_properties(test_device_loop PROPERTIES TIMEOUT 60)
  # A CPU stand-in for the CUDA driver (tests/fake_cuda): the GPU executor's
  # whole life (launch, flow, fail ring, device faults, restarts, poison,
  # terminate) through the real binary and library on a machine without a
  # GPU.  The GPU tests run again against it, as gpu-fake.
  if(RH_CUDA_INCLUDE_DIR)
    add_library(rh_fake_cuda SHARED fake_cuda/fake_cuda.cpp)
    target_include_directories(rh_fake_cuda SYSTEM PRIVATE ${RH_CUDA_INCLUDE_DIR})
    target_include_directories(rh_fake_cuda PRIVATE ${CMAKE_SOURCE_DIR}/host/include)
    target_link_libraries(rh_fake_cuda PRIVATE rh_device_types Threads::Threads)
    set_target_properties(rh_fake_cuda PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF
      OUTPUT_NAME cuda SOVERSION 1 LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fake_cuda)
    # The same without cuStreamQuery: a driver too old for the executor.
    add_library(rh_fake_cuda_old SHARED fake_cuda/fake_cuda.cpp)
    target_compile_definitions(rh_fake_cuda_old PRIVATE FAKE_CUDA_WITHOUT_STREAM_QUERY)
    target_include_directories(rh_fake_cuda_old SYSTEM PRIVATE ${RH_CUDA_INCLUDE_DIR})
    target_include_directories(rh_fake_cuda_old PRIVATE ${CMAKE_SOURCE_DIR}/host/include)
    target_link_libraries(rh_fake_cuda_old PRIVATE rh_device_types Threads::Threads)
    set_target_properties(rh_fake_cuda_old PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF
      OUTPUT_NAME cuda SOVERSION 1 LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fake_cuda_old)
  endif()
else()
  message(STATUS "ringhost: no C++ compiler: test_ring_abi_cxx skipped")
endif()

# nvcc runs when the test runs, not in every build: a CUDA compile takes
# seconds and needs no GPU.
find_program(RH_NVCC nvcc PATHS /usr/local/cuda/bin)
if(RH_NVCC)
  add_test(NAME test_ring_abi_nvcc
           COMMAND ${RH_NVCC} -x cu -std=c++17 -I${CMAKE_SOURCE_DIR}/host/include
                   -I${CMAKE_CURRENT_SOURCE_DIR}/unit
                   -c ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ring_abi.c
                   -o ${CMAKE_CURRENT_BINARY_DIR}/test_ring_abi_nvcc.o)
else()
  message(STATUS "ringhost: no nvcc: test_ring_abi_nvcc skipped")
endif()
