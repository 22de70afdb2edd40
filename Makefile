# The two commands of the README, and their sanitizer variants.
#   make run    install what is missing, build, run the VectorAdd demo
#   make run-cluster  the same demo on two hosts through one nats-server
#   make test   install what is missing, build, run every test (CTest)
#   make test SANITIZE=asan   the same under AddressSanitizer + UBSan
#   make test SANITIZE=tsan   the same under ThreadSanitizer
SANITIZE ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),asan)
  BUILD ?= build-asan
  CMAKE_FLAGS = -DRINGHOST_SANITIZE=ON
  RUN_FLAGS = --plugins $(BUILD)/plugins
else ifeq ($(SANITIZE),tsan)
  BUILD ?= build-tsan
  CMAKE_FLAGS = -DRINGHOST_TSAN=ON
  RUN_FLAGS = --plugins $(BUILD)/plugins
  # races inside libraries not built with TSan (tests/tsan.supp says which)
  TEST_ENV = TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp"
else
  BUILD ?= build
  CMAKE_FLAGS =
endif

# CTEST_ARGS: more ctest arguments for `make test` (.ci/run leaves the
# install test out of the sanitizer passes: it checks packaging, which the
# plain pass covers, and is their slowest test).
CTEST_ARGS ?=
.PHONY: all deps configure build run run-gpu run-cluster test clean
MAKEFLAGS += --no-print-directory
all: build

deps:
	@bash .ci/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# The demo needs only the host and the kernels, not the tests; what
# `cmake --install` copies (target rh_install) is built too, so installing
# works after `make run` as after `make test`.
run: configure
	@cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels rh_install
	@echo "== VectorAdd demo: manifests/vector_add.json <- manifests/vector_add.requests.jsonl =="
	./$(BUILD)/ringhost run manifests/vector_add.json --send manifests/vector_add.requests.jsonl $(RUN_FLAGS)

# The same demo on the GPU (manifests/vector_add_gpu.json, "isolation":
# "cuda"): the kernel's device code is built by nvcc (CUDA toolkit), and it
# runs where a CUDA driver and device are; elsewhere ringhost says which is
# missing and exits 2.
run-gpu: configure
	@cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels
	@test -f plugins/vector_add_gpu.so -o -f $(BUILD)/plugins/vector_add_gpu.so || \
		{ echo "run-gpu: vector_add_gpu was not built: the CUDA toolkit (nvcc) was not found at configure time" >&2; exit 2; }
	@echo "== VectorAdd on the GPU: manifests/vector_add_gpu.json <- manifests/vector_add.requests.jsonl =="
	./$(BUILD)/ringhost run manifests/vector_add_gpu.json --send manifests/vector_add.requests.jsonl $(RUN_FLAGS)

# Two hosts and one nats-server on this machine (tools/run_cluster.sh): the
# gateway takes the requests, the kernel host answers them through JetStream;
# everything started is stopped by pid at the end.
run-cluster: configure
	@cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels
	@RINGHOST=./$(BUILD)/ringhost PLUGINS=$(if $(RUN_FLAGS),$(BUILD)/plugins) \
		bash tools/run_cluster.sh

test: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j$(JOBS) --timeout 300 $(CTEST_ARGS)

clean:
	rm -rf build build-asan build-tsan plugins/*.so

# Install the host, ringhost-gen, the headers, the kernel test library and
# the CMake/pkg-config package (README, "Write your own kernel").
#   make install PREFIX=/opt/ringhost    (default /usr/local)
PREFIX ?= /usr/local
.PHONY: install
# Builds only what it installs (target rh_install), not the test suite.
install: configure
	@cmake --build $(BUILD) -j$(JOBS) --target rh_install
	@cmake --install $(BUILD) --prefix $(PREFIX)
