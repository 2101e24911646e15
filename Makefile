# SPDX-License-Identifier: GPL-2.0
#
# Build, boot and test our KSM on a Debian linux-source-6.12 tree.
#
#   make run                 boot our kernel and show KSM merging
#   make check               all tests on the debug kernel; last line "N passed, N failed"
#   make soak DURATION=secs  the stress test on the debug kernel, for that long
#   make vm CMD='...' FILES='host paths'   run a command in the guest
#   make bench               ours against upstream, side by side
#   make profile             where ksmd's time goes, ours against upstream
#   make lint                static checks of our files and of the series
#   make export              the series as patches for git am, in build/export
#   make export-check        apply them to a fresh 6.12 tree and build it
#   make bisect-check        the same, building after every patch
#   make harness-test        the harness itself, through make vm in a guest
#
# Every target that builds or boots a kernel takes IMPL=upstream to use the
# unmodified in-tree KSM of the same base tree instead of ours.  See README.

IMPL ?= ours
FLAVOUR ?= check
B := build
H := tools/testing/ksm
TIMEOUT ?= 3000
KIMG = $(B)/src/$(IMPL)/obj-$(FLAVOUR)/arch/x86/boot/bzImage
LOGS := $(B)/logs
# "shell" when make runs on a terminal: vm and run then end in a guest shell.
TTY := $(shell [ -t 0 ] && echo shell)
TESTS := $(B)/tests

ifeq ($(filter $(IMPL),ours upstream),)
$(error IMPL must be "ours" or "upstream")
endif

.PHONY: help deps prepare kernel build tests check soak vm run bench profile clean distclean \
	lint-deps lint export export-check bisect-check harness-test

help:
	@sed -n '3,19p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(H)/deps.sh

lint-deps: deps
	@$(H)/deps.sh lint

prepare: deps
	@$(H)/prepare-tree.sh . $(B) $(IMPL)

kernel: prepare
	@$(H)/build-kernel.sh . $(B) $(IMPL) $(FLAVOUR)

# The guest's test binaries always come from our prepared tree: it holds
# the base tree's selftests unchanged plus ours, so both kernels run the
# same binaries.
tests: deps
	@$(H)/prepare-tree.sh . $(B) ours >/dev/null
	@$(MAKE) -s -f $(H)/tests.mk TREE=$(CURDIR)/$(B)/src/ours OUT=$(CURDIR)/$(TESTS)

build: kernel tests

check: FLAVOUR := check
check: build
	@$(H)/run-check.sh $(KIMG) $(TESTS)/bin $(LOGS) $(IMPL) $(TIMEOUT)

# ksm_stress for DURATION seconds, then FAULT_DURATION (default: a third
# of it) with failures injected, judged as make check judges a run.
DURATION ?= 1800
FAULT_DURATION ?=
soak: FLAVOUR := check
soak: build
	@$(H)/run-soak.sh $(KIMG) $(TESTS)/bin $(LOGS) $(IMPL) $(DURATION) $(FAULT_DURATION)

# CMD and FILES are shell text for the guest and host paths: taken as
# written ($(value ...)), never expanded by make, and single-quoted for the
# recipe's shell.
quote = '$(subst ','\'',$(value $1))'

vm: build
	@mkdir -p $(LOGS)
	@$(H)/run-vm.sh -k $(KIMG) -t $(TESTS)/bin -c $(call quote,CMD) -T $(TIMEOUT) \
		-l $(LOGS)/$(IMPL)-vm-console.log -f $(call quote,FILES) -a loglevel=5 \
		$(if $(value CMD),,$(if $(TTY),-i))

run: build
	@mkdir -p $(LOGS)
	@$(H)/run-vm.sh -k $(KIMG) -t $(TESTS)/bin -c ksm-demo -T $(TIMEOUT) \
		-l $(LOGS)/$(IMPL)-run-console.log -a loglevel=5 $(if $(TTY),-i)

# Both kernels in the bench flavour, ours and upstream booted in turn.
bench: tests
	@$(H)/bench/run.sh

# Both kernels with the ftrace function profiler, on the same workload.
profile: tests
	@$(H)/bench/profile.sh

# The series and its checks concern our files: IMPL does not apply.
export: lint-deps
	@python3 $(H)/export/export.py . $(B)

lint: export
	@$(H)/prepare-tree.sh . $(B) ours >/dev/null
	@$(H)/lint.sh . $(B)

# These export anew themselves, once their fresh tree is ready.
export-check: lint-deps
	@$(H)/export/check.sh . $(B) last

bisect-check: lint-deps
	@$(H)/export/check.sh . $(B) each

harness-test: build
	@IMPL=$(IMPL) FLAVOUR=$(FLAVOUR) $(H)/harness-test.sh

clean:
	rm -rf $(B)/src/*/obj-* $(B)/tests $(B)/logs

distclean:
	rm -rf $(B)
