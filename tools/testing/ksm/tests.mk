# SPDX-License-Identifier: GPL-2.0
#
# Static test binaries for the guest, built on the host against the UAPI
# headers of the prepared tree:
#   - the base tree's KSM selftests, unchanged (ksm_tests, ksm_functional_tests);
#   - every other tools/testing/selftests/mm/ksm_*.c (ours);
#   - the harness programs in tools/testing/ksm/progs/;
#   - ksmstat (tools/mm/ksmstat.c), which ksm_ksmstat and the demo run.
#
# Usage: make -f tests.mk TREE=<prepared tree> OUT=<dir>

TREE ?= $(error TREE not set)
OUT ?= $(error OUT not set)

MM := $(TREE)/tools/testing/selftests/mm
PROGS := $(TREE)/tools/testing/ksm/progs
TOOLS := $(TREE)/tools/mm
HDR := $(OUT)/usr/include

CC := gcc
CFLAGS := -static -O2 -g -Wall -U_FORTIFY_SOURCE -I $(TREE) \
	  -isystem $(HDR) -isystem $(TREE)/tools/include/uapi
LDLIBS := -lnuma -lrt -lpthread -lm
SELFTEST_LIB := $(MM)/vm_util.c $(MM)/thp_settings.c

UPSTREAM := ksm_tests ksm_functional_tests
OURS := $(filter-out $(UPSTREAM),$(patsubst $(MM)/%.c,%,$(wildcard $(MM)/ksm_*.c)))
HARNESS := $(patsubst $(PROGS)/%.c,%,$(wildcard $(PROGS)/*.c))

BINS := $(addprefix $(OUT)/bin/,$(UPSTREAM) $(OURS) $(HARNESS) ksmstat)

all: $(BINS)
	@echo "tests: $(words $(BINS)) static binaries in $(OUT)/bin"

$(HDR)/.stamp: $(shell find $(TREE)/include/uapi $(TREE)/arch/x86/include/uapi -newer $(HDR)/.stamp 2>/dev/null | head -1)
	@mkdir -p $(OUT)/hdr-obj
	@$(MAKE) -s -C $(TREE) O=$(OUT)/hdr-obj ARCH=x86_64 headers_install INSTALL_HDR_PATH=$(OUT)/usr
	@touch $@

# ksm_functional_tests of 6.12 re-executes itself with an argv array that
# lacks its terminating NULL, so execve() reads whatever follows it on the
# stack: at -O2 in a static binary that is garbage (EFAULT, and the child
# goes on to run the remaining tests a second time), at -O0 it is NULL.
# Build the base tree's tests, which must stay unchanged, at -O0.
$(OUT)/bin/ksm_functional_tests $(OUT)/bin/ksm_tests: CFLAGS += -O0

$(addprefix $(OUT)/bin/,$(UPSTREAM) $(OURS)): $(OUT)/bin/%: $(MM)/%.c $(SELFTEST_LIB) $(wildcard $(MM)/*.h) $(HDR)/.stamp $(lastword $(MAKEFILE_LIST))
	@mkdir -p $(OUT)/bin
	$(CC) $(CFLAGS) -I $(MM) $< $(SELFTEST_LIB) $(LDLIBS) -o $@

$(addprefix $(OUT)/bin/,$(HARNESS)): $(OUT)/bin/%: $(PROGS)/%.c $(wildcard $(PROGS)/*.h) $(HDR)/.stamp
	@mkdir -p $(OUT)/bin
	$(CC) $(CFLAGS) -I $(PROGS) $< $(LDLIBS) -o $@

# A tool of the tree, built as tools/mm builds it, with its stricter warnings.
$(OUT)/bin/ksmstat: $(TOOLS)/ksmstat.c $(lastword $(MAKEFILE_LIST))
	@mkdir -p $(OUT)/bin
	$(CC) $(CFLAGS) -Wextra $< -o $@

.PHONY: all
