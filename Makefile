# Weft build.  One Makefile, wildcard sources: every directory adds files
# without touching this one.
#
#   make              release-ish build (-O2 -g) into build/
#   make SAN=1        AddressSanitizer + UBSan build into build-san/
#   make test         deps, both builds, unit + fuzz + system tests
#   make demo         multi-host demo in network namespaces
#   make bench        micro and netns benchmarks with baselines
#   make deps         apt-get install whatever is missing

CC      ?= gcc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
OPT     := -O1
else
BUILD   := build
SANFLAGS :=
OPT     := -O2
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  := -std=gnu11 $(OPT) -g $(WARN) $(SANFLAGS) -D_GNU_SOURCE \
           -Iinclude -I. -MMD -MP
LDFLAGS := $(SANFLAGS)
LIBS_CORE := -lpthread
LIBS_JSON := -ljansson
LIBS_HTTP := -lmicrohttpd
LIBS_SQL  := -lsqlite3
LIBS_CURL := -lcurl
LIBS_DP   := -lbpf -lmnl

LIB_SRC  := $(wildcard lib/*.c)
DP_SRC   := $(wildcard datapath/*.c)
SIM_SRC  := $(wildcard sim/*.c)
AG_SRC   := $(wildcard agent/*.c)
CT_SRC   := $(wildcard controller/*.c)
CLI_SRC  := $(wildcard cli/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBBASE  := $(BUILD)/libweftbase.a
LIBWEFT  := $(BUILD)/libweft.a
LIBCTRL  := $(BUILD)/libweftctrl.a
AG_MAIN  := $(BUILD)/obj/agent/main.o
CT_MAIN  := $(BUILD)/obj/controller/main.o
AG_OBJ   := $(filter-out $(AG_MAIN),$(call obj,$(AG_SRC)))
CT_OBJ   := $(filter-out $(CT_MAIN),$(call obj,$(CT_SRC)))
LIBAGENT := $(BUILD)/libweftagent.a

BINS := $(if $(wildcard controller/main.c),$(BUILD)/bin/weft-controller) \
        $(if $(wildcard agent/main.c),$(BUILD)/bin/weft-agent) \
        $(if $(CLI_SRC),$(BUILD)/bin/weftctl)

UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
MICRO_SRC := $(wildcard bench/micro/*.c)
MICRO_BIN := $(patsubst bench/micro/%.c,$(BUILD)/bench/%,$(MICRO_SRC))

.PHONY: all deps test test-unit test-system test-fuzz demo bench clean \
        check-headers
all: $(BINS) $(UNIT_BIN) $(MICRO_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The kernel fast path's BPF programs, compiled by clang and embedded in
# the datapath library (datapath/kpath-obj.c).
BPF_OBJ := $(BUILD)/bpf/kpath.bpf.o
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -I. \
              -I/usr/include/$(shell $(CC) -print-multiarch)
$(BPF_OBJ): datapath/bpf/kpath.bpf.c datapath/kpath-abi.h
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/obj/datapath/kpath-obj.o: datapath/kpath-obj.c $(BPF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DKPATH_BPF_OBJ='"$(BPF_OBJ)"' -c $< -o $@

$(LIBBASE): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBWEFT): $(call obj,$(DP_SRC) $(SIM_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBCTRL): $(CT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBAGENT): $(AG_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/weft-controller: $(CT_MAIN) $(LIBCTRL) $(LIBBASE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS_HTTP) $(LIBS_SQL) $(LIBS_JSON) \
	  $(LIBS_CORE)

$(BUILD)/bin/weft-agent: $(AG_MAIN) $(LIBAGENT) $(LIBWEFT) $(LIBBASE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS_CURL) $(LIBS_JSON) $(LIBS_DP) \
	  $(LIBS_CORE)

$(BUILD)/bin/weftctl: $(call obj,$(CLI_SRC)) $(LIBWEFT) $(LIBBASE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS_CURL) $(LIBS_JSON) $(LIBS_DP) \
	  $(LIBS_CORE)

# Unit tests link everything; each test-*.c is one binary.
# tests/lib: what unit tests share (unit.h, sim-test.h).
LIBTEST := $(BUILD)/libwefttest.a
$(LIBTEST): $(call obj,$(wildcard tests/lib/*.c))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/test-%: tests/unit/test-%.c $(LIBTEST) $(LIBAGENT) $(LIBCTRL) \
                      $(LIBWEFT) $(LIBBASE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIBTEST) $(LIBAGENT) $(LIBCTRL) \
	  $(LIBWEFT) $(LIBBASE) -o $@ $(LDFLAGS) $(LIBS_HTTP) $(LIBS_SQL) \
	  $(LIBS_CURL) $(LIBS_JSON) $(LIBS_DP) $(LIBS_CORE)

$(BUILD)/bench/%: bench/micro/%.c $(LIBAGENT) $(LIBWEFT) $(LIBBASE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIBAGENT) $(LIBWEFT) $(LIBBASE) -o $@ $(LDFLAGS) \
	  $(LIBS_CURL) $(LIBS_JSON) $(LIBS_DP) $(LIBS_CORE)

# Every public header must compile on its own.
check-headers:
	@for h in include/weft/*.h lib/*.h datapath/*.h sim/*.h \
	          controller/*.h agent/*.h; do \
	  [ -f "$$h" ] || continue; \
	  echo "#include \"$$h\"" | $(CC) $(CFLAGS) -x c -fsyntax-only - \
	    || exit 1; \
	done; echo "headers: all self-contained"

deps:
	@scripts/deps.sh

test: deps
	@scripts/test.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: deps
	@scripts/bench.sh

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
