# RinghostKernel.cmake — build ring kernels from C sources and message schemas.
#
# Works the same in the ringhost source tree (the top-level CMakeLists.txt
# includes it after host/) and in a kernel project outside it:
#
#   find_package(ringhost REQUIRED)   # ringhostConfig.cmake includes this file
#   enable_testing()
#   ringhost_add_kernel(mykernel SOURCES mykernel.c SCHEMAS request.json response.json)
#   ringhost_add_kernel_test(mykernel test_mykernel.c)
#
# Either way it builds against the targets ringhost::headers, ringhost::gen
# and ringhost::testing (aliases in host/CMakeLists.txt in-tree, imported
# targets of the installed package outside), PkgConfig::JANSSON and, for
# tests, PkgConfig::CMOCKA.
#
#   ringhost_add_kernel(NAME SOURCES src.c... SCHEMAS type.json...)
#
# runs ringhost-gen on every schema into ${CMAKE_CURRENT_BINARY_DIR}/gen
# (one <cname>.h/.c per schema, so a kernel includes "vector_add_request.h"),
# and defines:
#   NAME_kernel  static library of the sources and generated codecs, for tests:
#                links them in-process, includes the ringhost headers and the
#                gen dir, and links PUBLIC to jansson;
#   NAME         the plugin: a MODULE library NAME.so (no "lib" prefix) written
#                to ${RINGHOST_PLUGIN_OUTPUT_DIR} (default: the plugins/ folder
#                of the top build dir, ${CMAKE_BINARY_DIR}/plugins; the ringhost
#                tree sets it to its drop-in folder), built with hidden
#                visibility so it exports only rh_kernel_entry (RH_KERNEL_EXPORT).
# Both are made from one set of objects (NAME_objects), compiled once, as
# position-independent code.  A schema may be shared by several kernels
# (kernels/common/vector_f32.json): each kernel generates its own copy in its
# own binary dir and carries its own hidden descriptor; the host matches types
# by fingerprint, never by address.
#
# Every kernel's name is appended to the global property RINGHOST_KERNELS
# (kernels/CMakeLists.txt makes the target rh_kernels build them all).
#
#   ringhost_add_kernel_test(NAME SOURCE)
#
# builds the cmocka program test_NAME from SOURCE, linked to NAME_kernel,
# ringhost::testing (ringhost/testing.h) and cmocka, with RH_KERNEL_PLUGIN_PATH
# defined to the path of the plugin NAME.so (built first) for tests that also
# load it as the host would (rh_harness_load), and registers it as the CTest
# test test_NAME (label "kernel", 60 s timeout).  Call enable_testing() first.
#
#   ringhost_generate(OUT_VAR DIR schema.json...)
#
# the generation step alone: custom commands writing DIR/<cname>.{h,c}; the
# generated files are listed in OUT_VAR.  Use it from one target per DIR.
#
# Plugins are not linked with -Wl,--no-undefined: a module resolves jansson and
# libc at dlopen time, and sanitizer builds leave their runtime's symbols for
# the executable to provide.  The host dlopen()s with RTLD_NOW, so an undefined
# symbol is still reported at load, with its name.

include_guard(GLOBAL)

# The public headers' folder, for targets that do not link ringhost::headers
# (tests/plugins); the installed package sets it before including this file.
if(NOT DEFINED RINGHOST_INCLUDE_DIR)
  get_filename_component(RINGHOST_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../host/include" ABSOLUTE)
endif()

foreach(rh_required ringhost::headers ringhost::gen ringhost::testing)
  if(NOT TARGET ${rh_required})
    message(FATAL_ERROR "RinghostKernel.cmake: target ${rh_required} is not defined: use "
                        "find_package(ringhost) rather than including this file directly (in "
                        "the ringhost tree, include it after add_subdirectory(host))")
  endif()
endforeach()

function(ringhost_generate OUT_VAR DIR)
  if(CMAKE_VERSION VERSION_LESS 3.19)
    message(FATAL_ERROR "ringhost_generate needs CMake 3.19 or newer (string(JSON)) to read "
                        "the type names of message schemas")
  endif()
  set(outputs)
  set(seen)
  foreach(schema IN LISTS ARGN)
    get_filename_component(schema "${schema}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${schema}")
      message(FATAL_ERROR "${schema}: message schema not found")
    endif()
    # The generated file names come from the type name inside the schema, so
    # read it now, and configure again whenever the schema changes.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${schema}")
    file(READ "${schema}" text)
    string(JSON type_name ERROR_VARIABLE json_error GET "${text}" name)
    if(json_error)
      message(FATAL_ERROR "${schema}: cannot read the message type name: ${json_error}")
    endif()
    string(REGEX REPLACE "[.-]" "_" cname "${type_name}")
    if(NOT cname MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
      message(FATAL_ERROR "${schema}: name: \"${type_name}\" is not a valid message type name")
    endif()
    if(cname IN_LIST seen)
      message(FATAL_ERROR "${schema}: type \"${type_name}\" is generated twice into ${DIR}")
    endif()
    list(APPEND seen "${cname}")
    add_custom_command(
      OUTPUT "${DIR}/${cname}.h" "${DIR}/${cname}.c"
      COMMAND ringhost::gen "${schema}" --out-dir "${DIR}"
      DEPENDS "${schema}" ringhost::gen
      COMMENT "ringhost-gen ${type_name}"
      VERBATIM)
    list(APPEND outputs "${DIR}/${cname}.h" "${DIR}/${cname}.c")
  endforeach()
  set(${OUT_VAR} ${outputs} PARENT_SCOPE)
endfunction()

function(ringhost_add_kernel NAME)
  cmake_parse_arguments(K "" "" "SOURCES;SCHEMAS;DEVICE_SOURCES" ${ARGN})
  if(K_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ringhost_add_kernel(${NAME}): unexpected arguments ${K_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT K_SOURCES)
    message(FATAL_ERROR "ringhost_add_kernel(${NAME}): SOURCES is empty")
  endif()
  if(NOT RINGHOST_PLUGIN_OUTPUT_DIR)
    set(RINGHOST_PLUGIN_OUTPUT_DIR "${CMAKE_BINARY_DIR}/plugins")
  endif()

  # DEVICE_SOURCES: the .cu files of a device kernel (ringhost/device.cuh),
  # built by nvcc into a fatbin embedded in the plugin (RinghostCuda.cmake);
  # without nvcc the kernel is left out, with a message.
  if(K_DEVICE_SOURCES AND NOT RH_NVCC)
    message(STATUS "ringhost: kernel ${NAME} left out: its device code needs nvcc")
    return()
  endif()
  set(gen_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  ringhost_generate(generated "${gen_dir}" ${K_SCHEMAS})
  foreach(cu IN LISTS K_DEVICE_SOURCES)
    get_filename_component(cu_name "${cu}" NAME_WE)
    set(cu_c "${CMAKE_CURRENT_BINARY_DIR}/${cu_name}_fatbin.c")
    ringhost_cuda_fatbin("${cu_c}" "${cu}" INCLUDES "${gen_dir}" DEPENDS ${generated})
    list(APPEND K_SOURCES "${cu_c}")
  endforeach()

  add_library(${NAME}_objects OBJECT ${K_SOURCES} ${generated})
  set_target_properties(${NAME}_objects PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${NAME}_objects PUBLIC "${gen_dir}")
  target_link_libraries(${NAME}_objects PUBLIC ringhost::headers PkgConfig::JANSSON)

  add_library(${NAME}_kernel STATIC $<TARGET_OBJECTS:${NAME}_objects>)
  target_include_directories(${NAME}_kernel PUBLIC "${gen_dir}")
  target_link_libraries(${NAME}_kernel PUBLIC ringhost::headers PkgConfig::JANSSON)

  add_library(${NAME} MODULE $<TARGET_OBJECTS:${NAME}_objects>)
  target_link_libraries(${NAME} PRIVATE PkgConfig::JANSSON)
  set_target_properties(${NAME} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${NAME}
    # $<1:...> keeps multi-config generators from adding a per-config subfolder
    LIBRARY_OUTPUT_DIRECTORY "$<1:${RINGHOST_PLUGIN_OUTPUT_DIR}>")
  set_property(GLOBAL APPEND PROPERTY RINGHOST_KERNELS ${NAME})
endfunction()

function(ringhost_add_kernel_test NAME SOURCE)
  if(NOT TARGET ${NAME}_kernel)
    message(FATAL_ERROR "ringhost_add_kernel_test(${NAME}): no kernel ${NAME}; call "
                        "ringhost_add_kernel(${NAME} ...) first")
  endif()
  if(NOT TARGET PkgConfig::CMOCKA AND RINGHOST_KERNEL_TESTS_OPTIONAL)
    return() # the tree's top level said once that tests are not built
  elseif(NOT TARGET PkgConfig::CMOCKA)
    message(FATAL_ERROR "ringhost_add_kernel_test(${NAME}): cmocka not found (pkg-config "
                        "cmocka); install libcmocka-dev")
  endif()
  add_executable(test_${NAME} ${SOURCE})
  target_link_libraries(test_${NAME} PRIVATE ${NAME}_kernel ringhost::testing PkgConfig::CMOCKA)
  target_compile_definitions(test_${NAME} PRIVATE RH_KERNEL_PLUGIN_PATH="$<TARGET_FILE:${NAME}>")
  add_dependencies(test_${NAME} ${NAME})
  add_test(NAME test_${NAME} COMMAND test_${NAME})
  set_tests_properties(test_${NAME} PROPERTIES TIMEOUT 60 LABELS kernel)
endfunction()
