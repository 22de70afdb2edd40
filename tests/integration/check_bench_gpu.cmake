# check_bench_gpu.cmake — test_bench_gpu: ringhost-bench-gpu runs on any
# machine.  cmake -DBIN=<ringhost-bench-gpu> -P check_bench_gpu.cmake
#   without a CUDA device: it prints "skipped: no CUDA device (...)" and
#   exits 0 (a machine without a GPU must not fail the suite);
#   with one: it exits 0 and prints a header line and one JSON line with
#   figures for each of the four baselines, no error line.
execute_process(COMMAND "${BIN}" --iters 10 --seconds 0.2
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 120)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ringhost-bench-gpu exited ${rc}, expected 0")
endif()
if(out MATCHES "^skipped: no CUDA device \\([^)]+")
  message("no CUDA device here: the skip line and exit 0 are what is expected")
  return()
endif()
if(out MATCHES "skipped")
  message(FATAL_ERROR "a skip line other than \"skipped: no CUDA device (<why>)\" at the start")
endif()
if(out MATCHES "\"error\":")
  message(FATAL_ERROR "an error line in the output")
endif()
foreach(pattern
    "\"name\":\"gpu.header\",\"card\":\"[^\"]+\".*\"host_native_atomic\":[01]"
    "\"name\":\"gpu.pingpong.mapped\",\"unit\":\"ns\",\"p50\":[0-9]+,\"p99\":[0-9]+,\"p99.9\":[0-9]+"
    "\"name\":\"gpu.stream.mapped\",\"unit\":\"msg/s\",\"msg_per_s\":[1-9][0-9]*"
    "\"name\":\"gpu.copy_launch_sync\",\"unit\":\"ns\",\"p50\":[0-9]+"
    "\"name\":\"gpu.graph_replay\",\"unit\":\"ns\",\"p50\":[0-9]+")
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "no line matching ${pattern}")
  endif()
endforeach()
