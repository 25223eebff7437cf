# tui: plain GNU make.
#
#   make                 build build/tui
#   make demo            install missing Debian packages, build, open the example model in the editor
#   make test            install missing Debian packages, build, run all tests
#   make test-full       the same with every kill point and every hostile file (hours)
#   make example         the Fashion-MNIST example and its table (docs/example.md)
#   make bench           benchmarks against the Python route (docs/benchmarks.md)
#   make fuzz FUZZ_SECONDS=N   every fuzz target for N seconds (docs/fuzzing.md)
#   make gpu-check       the trainer on cuda against PyTorch (docs/training.md)
#   make install PREFIX=/usr/local
#   TORCH=off|auto|<libtorch prefix>   trainer and shim (auto: Debian's libtorch)
#   SANITIZE=address,undefined         sanitizer build (in build-san/)

CC ?= cc
CXX ?= c++
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
TORCH ?= auto
SANITIZE ?=
PYTHON ?= /usr/bin/python3
VERSION := 0.1.0

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build-san
endif

# --- libtorch ------------------------------------------------------------
ifeq ($(TORCH),auto)
  ifneq ($(wildcard /usr/include/torch/csrc/api/include/torch/torch.h),)
    TORCH_PREFIX := /usr
  endif
else ifneq ($(TORCH),off)
  TORCH_PREFIX := $(TORCH)
endif

# --- flags ---------------------------------------------------------------
PKGS := yaml-0.1 libcjson zlib nettle lapacke blas
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ifeq ($(shell $(PKG_CONFIG) ncursesw && echo 1),1)
  CURSES_CFLAGS := $(shell $(PKG_CONFIG) --cflags ncursesw)
  CURSES_LIBS := $(shell $(PKG_CONFIG) --libs ncursesw)
else
  CURSES_LIBS := -lncursesw
endif

OPT ?= -O2 -g
WARN := -Wall -Wextra -Wshadow
CFLAGS_ALL := -std=c11 $(OPT) $(WARN) -fPIC -D_GNU_SOURCE -DTUI_VERSION=\"$(VERSION)\" \
	$(PKG_CFLAGS) $(CURSES_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS)
ifneq ($(SANITIZE),)
  SAN := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  CFLAGS_ALL += $(SAN)
  LDFLAGS_ALL += $(SAN)
endif
DEPFLAGS = -MMD -MP

# --- sources -------------------------------------------------------------
LIB_SRC := $(wildcard tui/core/*.c) $(wildcard tui/formats/*.c)
LIB_SRC += $(wildcard tui/export/*.c)
LIB_SRC += $(wildcard tui/inspect/*.c)
CLI_SRC := tui/main.c $(wildcard tui/cli/*.c)
UI_SRC := $(wildcard tui/ui/*.c)
TRAIN_SRC := $(wildcard tui/train/*.c)
SHIM_SRC := $(wildcard shim/*.cpp)
TEST_SRC := $(wildcard tests/unit/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
APP_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(UI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIBS := $(PKG_LIBS) $(CURSES_LIBS) -lm -ldl
LINK := $(CC)

# The trainer (tui/train/*.c and the C++ shim) is a shared library that
# `tui --headless` loads with dlopen, so no other mode loads libtorch
# (docs/benchmarks.md: --list would otherwise take 0.6 s instead of 2 ms).
TRAIN_LIB :=
ifneq ($(SHIM_SRC)$(TRAIN_SRC),)
ifdef TORCH_PREFIX
  # /usr/include must not be an -isystem folder (it breaks C++'s
  # #include_next), so Debian's prefix adds only the API folder.
  TORCH_INC := $(if $(filter /usr,$(TORCH_PREFIX)),,-isystem $(TORCH_PREFIX)/include) \
	-isystem $(TORCH_PREFIX)/include/torch/csrc/api/include
  ifeq ($(TORCH_PREFIX),/usr)
    TORCH_LIBDIR := /usr/lib/$(shell $(CC) -dumpmachine)
  else
    TORCH_LIBDIR := $(TORCH_PREFIX)/lib
  endif
  TORCH_CUDA := $(wildcard $(TORCH_LIBDIR)/libtorch_cuda.so)
  TORCH_LIBS := -L$(TORCH_LIBDIR) -Wl,-rpath,$(TORCH_LIBDIR) \
	-Wl,--no-as-needed $(if $(TORCH_CUDA),-ltorch_cuda -lc10_cuda) \
	-ltorch_cpu -ltorch -lc10 -Wl,--as-needed
  # A pip wheel's libtorch fixes the C++ ABI; match it (Debian's is 1).
  TORCH_ABI ?= $(if $(filter /usr,$(TORCH_PREFIX)),1,$(shell $(PYTHON) -c \
	"import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))" 2>/dev/null || echo 1))
  CXXFLAGS_ALL := -std=c++17 $(OPT) -Wall -Wextra -fPIC $(TORCH_INC) \
	-D_GLIBCXX_USE_CXX11_ABI=$(TORCH_ABI) $(if $(TORCH_CUDA),-DTS_CUDA) \
	$(CXXFLAGS) $(if $(SANITIZE),$(SAN))
  TRAIN_OBJ := $(TRAIN_SRC:%.c=$(BUILD)/obj/%.o) $(SHIM_SRC:%.cpp=$(BUILD)/obj/%.o)
  TRAIN_LIB := $(BUILD)/libtui-train.so
  # tells --headless's "no trainer" message which command builds it
  CFLAGS_ALL += -DTUI_TRAINER_BUILT=1
endif
endif

.PHONY: example gpu-check fuzz all test test-fast test-full unit deps demo bench install clean fixtures help
all: $(BUILD)/tui $(TRAIN_LIB)

help:
	@sed -n '3,13p' Makefile

# Rebuild everything when the flags change (redis's .make-settings).
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CFLAGS_ALL) $(LDFLAGS_ALL) $(LIBS) $(CXXFLAGS_ALL)' | cmp -s - $@ || \
	  echo '$(CFLAGS_ALL) $(LDFLAGS_ALL) $(LIBS) $(CXXFLAGS_ALL)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

$(BUILD)/libtui.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tui: $(APP_OBJ) $(BUILD)/libtui.a
	$(LINK) $(LDFLAGS_ALL) -o $@ $(APP_OBJ) $(BUILD)/libtui.a $(LIBS)

$(BUILD)/libtui-train.so: $(TRAIN_OBJ) $(BUILD)/libtui.a
	$(CXX) -shared $(LDFLAGS_ALL) -o $@ $(TRAIN_OBJ) $(BUILD)/libtui.a \
	  $(PKG_LIBS) $(TORCH_LIBS) -lm

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtui.a $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -o $@ $< $(BUILD)/libtui.a $(LDFLAGS_ALL) $(PKG_LIBS) -lm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- dependencies (Debian) -------------------------------------------------
deps:
	@sh tests/deps.sh

# The demo builds only the editor (the trainer's C++ takes minutes), then
# opens the example's pretrained model (example/, made by `make example`'s
# own pipeline) with a plan ready for `tui --headless`.
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/tui
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/demo.sh

# The Fashion-MNIST transfer-learning example; its table goes to
# $(BUILD)/example/results.md. `make example UPDATE_DOCS=1` also puts it
# into the tracked docs/example.md.
example: deps
	@$(MAKE) --no-print-directory all
	@TUI=$(BUILD)/tui PYTHON=$(PYTHON) sh example/run.sh $(if $(UPDATE_DOCS),--doc docs/example.md) $(BUILD)/example

# --- tests ---------------------------------------------------------------
unit: $(TEST_BIN)

# `make test` runs every test twice: on the optimized build, then on an
# ASan+UBSan build (leaks reported as failures). `make test-fast` runs the
# first pass only. The kill-point tests (tests/cli/kill_ckpt.sh,
# kill_save.sh) kill at the structural calls of a save plus a sample of
# the others drawn with a fixed seed (KILL_SEED, default 1: the same
# points on every machine). The sanitizer pass draws 50 points of the
# trainer's checkpoint writes instead of 200 (each point is a libtorch
# start, 1.7 s there) and hands every third hostile file to --headless
# (tests/cli/hostile_modes.sh; every file still goes through every reader
# mode and the editor). `make test-full` is the exhaustive mode: both
# passes, a kill at every call of every save (KILL_POINTS=all: about 4,600
# trainer kills a pass, hours) and every hostile file to --headless.
test-full: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) PYTHON=$(PYTHON) KILL_POINTS=all HEADLESS_SAMPLE=1 sh tests/run.sh
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all unit
	@echo "--- the same tests under ASan+UBSan (build-san/), exhaustive"
	@BUILD=build-san PYTHON=$(PYTHON) KILL_POINTS=all HEADLESS_SAMPLE=1 sh tests/run.sh

test: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run.sh
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all unit
	@echo "--- the same tests under ASan+UBSan (build-san/)"
	@BUILD=build-san PYTHON=$(PYTHON) KILL_POINTS=$${KILL_POINTS:-50} \
	    HEADLESS_SAMPLE=$${HEADLESS_SAMPLE:-3} sh tests/run.sh

test-fast: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run.sh

fixtures: all
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/fixtures/make.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/bench/run.sh

# The GPU check (docs/training.md): builds against the PyTorch found on the
# machine, trains a short plan on cuda and compares with PyTorch there;
# on a machine without a GPU it runs the CPU part and says so.
gpu-check:
	@BUILD=$(if $(filter build,$(BUILD)),build-gpu,$(BUILD)) PYTHON=$(PYTHON) sh tests/gpu/gpu_check.sh

# libFuzzer targets under ASan+UBSan (clang); docs/fuzzing.md.
FUZZ_SECONDS ?= 10
fuzz: deps
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tui/presets \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/tui $(DESTDIR)$(PREFIX)/bin/tui
	$(if $(TRAIN_LIB),install -d $(DESTDIR)$(PREFIX)/lib/tui && install -m 755 $(TRAIN_LIB) $(DESTDIR)$(PREFIX)/lib/tui/)
	$(if $(wildcard presets/*.yaml),install -m 644 presets/*.yaml $(DESTDIR)$(PREFIX)/share/tui/presets/)
	$(if $(wildcard docs/tui.1),install -m 644 docs/tui.1 $(DESTDIR)$(PREFIX)/share/man/man1/tui.1)

clean:
	rm -rf build build-san
