# The two commands of the README, and their sanitizer variants.  Each
# installs only the packages it needs (.ci/deps.sh GROUP, as root), then
# builds only what it runs:
#   make run    packages to build and run the demo; build; the VectorAdd demo
#   make run-cluster  + nats-server: the same demo on two hosts through it
#   make test   + the test packages (cmocka, nats-server, prometheus, ...);
#               build; every test (CTest)
#   make test SANITIZE=asan   the same under AddressSanitizer + UBSan
#   make test SANITIZE=tsan   the same under ThreadSanitizer
#   make bench  + DPDK, ZeroMQ, iceoryx, gnuplot; build; ringhost bench
#   make deps DEPS="test bench"   only the packages of those groups
SANITIZE ?=
comma := ,
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
.PHONY: all deps configure build run run-gpu run-cluster test bench clean
MAKEFLAGS += --no-print-directory
all: build

DEPS ?= run
deps:
	@bash .ci/deps.sh $(DEPS)

# One line per step; cmake's own output goes to $(BUILD)/make.log and is
# shown (its end) only when the step fails.
STEP_LOG = $(BUILD)/make.log
define step
	@echo "ringhost: $(1)" >&2
	@mkdir -p $(BUILD) && { $(2); } >$(STEP_LOG) 2>&1 || \
		{ tail -n 40 $(STEP_LOG) >&2; echo "ringhost: failed: $(1) (whole output: $(STEP_LOG))" >&2; exit 1; }
endef
CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure:
	@bash .ci/deps.sh test
	@$(CONFIGURE) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# The demo needs only the host and the kernels, not the tests; what
# `cmake --install` copies (target rh_install) is built too, so installing
# works after `make run` as after `make test`.
run:
	@bash .ci/deps.sh run
	$(call step,configure $(BUILD)/,$(CONFIGURE))
	$(call step,build ringhost and the kernels,cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels rh_install)
	@echo "ringhost: VectorAdd demo: manifests/vector_add.json <- manifests/vector_add.requests.jsonl" >&2
	@./$(BUILD)/ringhost run manifests/vector_add.json --send manifests/vector_add.requests.jsonl $(RUN_FLAGS)

# The same demo on the GPU (manifests/vector_add_gpu.json, "isolation":
# "cuda"): the kernel's device code is built by nvcc (CUDA toolkit), and it
# runs where a CUDA driver and device are; elsewhere ringhost says which is
# missing and exits 2.
run-gpu:
	@bash .ci/deps.sh run
	$(call step,configure $(BUILD)/,$(CONFIGURE))
	$(call step,build ringhost and the kernels,cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels)
	@test -f plugins/vector_add_gpu.so -o -f $(BUILD)/plugins/vector_add_gpu.so || \
		{ echo "run-gpu: vector_add_gpu was not built: the CUDA toolkit (nvcc) was not found at configure time" >&2; exit 2; }
	@echo "== VectorAdd on the GPU: manifests/vector_add_gpu.json <- manifests/vector_add.requests.jsonl =="
	@./$(BUILD)/ringhost run manifests/vector_add_gpu.json --send manifests/vector_add.requests.jsonl $(RUN_FLAGS)

# Two hosts and one nats-server on this machine (tools/run_cluster.sh): the
# gateway takes the requests, the kernel host answers them through JetStream;
# everything started is stopped by pid at the end.
run-cluster:
	@bash .ci/deps.sh cluster
	$(call step,configure $(BUILD)/,$(CONFIGURE))
	$(call step,build ringhost and the kernels,cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels)
	@RINGHOST=./$(BUILD)/ringhost PLUGINS=$(if $(RUN_FLAGS),$(BUILD)/plugins) \
		bash tools/run_cluster.sh

test: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j$(JOBS) --timeout 300 $(CTEST_ARGS)

# The benchmark of README "Performance": ringhost-bench needs DPDK (the
# rte_ring baseline) and ZeroMQ; iceoryx is the zero-copy peer.
bench:
	@bash .ci/deps.sh bench
	$(call step,configure $(BUILD)/,$(CONFIGURE))
	$(call step,build ringhost$(comma) the kernels and ringhost-bench,cmake --build $(BUILD) -j$(JOBS) --target ringhost rh_kernels ringhost-bench)
	./$(BUILD)/ringhost bench $(BENCH_ARGS)

clean:
	rm -rf build build-asan build-tsan plugins/*.so

# Install the host, ringhost-gen, the headers, the kernel test library and
# the CMake/pkg-config package (README, "Write your own kernel").
#   make install PREFIX=/opt/ringhost    (default /usr/local)
PREFIX ?= /usr/local
.PHONY: install
# Builds only what it installs (target rh_install), not the test suite.
install:
	@bash .ci/deps.sh run
	@$(CONFIGURE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target rh_install
	@cmake --install $(BUILD) --prefix $(PREFIX)
