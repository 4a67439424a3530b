# ICA co-simulation. `make run` runs the demo headless; `make test` runs every test.
# Both install what is missing: Debian packages (when root) and a .venv with the
# pinned Python packages of requirements.txt.

PYTHON    ?= python3
VENV      := .venv
VPY       := $(VENV)/bin/python
DOCS_DIR  ?= build/docs
APT_PKGS  := qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi mosquitto mosquitto-clients libcoap3-bin \
             clang libclang-rt-dev gdb-multiarch chromium
# command that proves each package is there
APT_CMDS  := qemu-system-arm arm-none-eabi-gcc /usr/sbin/mosquitto mosquitto_sub coap-client-notls clang gdb-multiarch chromium

# Renode (optional second emulator): `make renode` installs the prebuilt Renode found in
# RENODE_SHARED into .renode/ (where pysim finds it), with the Debian packages it runs on,
# and the pyrenode3 wheel of RENODE_WHEELS into the venv. Nothing happens without them;
# the Renode tests then skip unless PYSIM_RENODE or PATH names a renode.
RENODE_SHARED ?= ../shared/renode
RENODE_WHEELS ?= ../shared/wheels
RENODE_DIR    := .renode
RENODE_APT_PKGS := mono-runtime libmono-microsoft-csharp4.0-cil libmono-posix4.0-cil libmono-system-drawing4.0-cil \
                   libmono-system-xml-linq4.0-cil libmonosgen-2.0-1
PYRENODE3_WHEEL := $(firstword $(wildcard $(RENODE_WHEELS)/pyrenode3-*.whl))

.PHONY: all run test deps venv firmware unit-firmware robot bench fuzz docs clean help renode
all: test

help:
	@echo "make run     the whole demo, headless: cloud + module + STM32 firmware in QEMU"
	@echo "make test    the whole test suite (pytest, firmware host unit tests, Robot suites)"
	@echo "make bench   the benchmarks (figures and ratios to their references)"
	@echo "make fuzz    the fuzzers for FUZZ_SECONDS each (default 60), with their input counts"
	@echo "make docs    the Robot keyword documentation (libdoc) in $(DOCS_DIR)/robot/"
	@echo "make deps    install the Debian packages (needs root) ; make venv  the Python venv"
	@echo "make renode  install Renode from $(RENODE_SHARED) into $(RENODE_DIR)/ when it is there"

deps:
	@missing=""; for c in $(APT_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	[ -f /usr/lib/arm-none-eabi/newlib/libc.a ] || [ -d /usr/lib/arm-none-eabi/newlib ] || missing="$$missing newlib"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: missing:$$missing"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "deps: apt-get install $(APT_PKGS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PKGS) >/dev/null || exit 1; \
	  else \
	    echo "deps: cannot install as non-root. Run: sudo apt-get install --no-install-recommends $(APT_PKGS)"; exit 1; \
	  fi; \
	fi

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements.txt pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV) || { echo "venv: needs python3-venv (apt-get install python3-venv)"; exit 1; }
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(VPY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

renode: venv $(if $(PYRENODE3_WHEEL),$(VENV)/.stamp-pyrenode3)
	@if [ ! -x "$(RENODE_SHARED)/install.sh" ]; then \
	  echo "renode: no $(RENODE_SHARED)/install.sh: skipped (Renode tests skip unless PYSIM_RENODE or PATH has renode)"; exit 0; fi; \
	missing=""; for p in $(RENODE_APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "renode: apt-get install$$missing"; \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing || \
	      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; }; \
	    } >/dev/null || exit 1; \
	  else \
	    echo "renode: cannot install as non-root. Run: sudo apt-get install --no-install-recommends$$missing"; exit 1; \
	  fi; \
	fi; \
	RENODE_MONO_PACKAGES="$(RENODE_APT_PKGS)" $(RENODE_SHARED)/install.sh $(RENODE_DIR) >/dev/null

$(VENV)/.stamp-pyrenode3: $(PYRENODE3_WHEEL) $(VENV)/.stamp
	$(VPY) -m pip install -q --disable-pip-version-check --no-deps $<
	@touch $@

firmware: deps
	$(MAKE) -C firmware

unit-firmware: deps
	$(MAKE) -C firmware host-test

run: deps venv firmware
	$(VENV)/bin/pysim run

test: deps venv firmware renode
	$(VPY) -m pytest -q -rs

robot: deps venv firmware renode
	$(MAKE) -C examples/firmware     # firmware_console.robot runs the example project's firmware
	$(VENV)/bin/robot --outputdir results robot/

# docs: the Robot library's keyword documentation, built by libdoc
docs: venv
	@mkdir -p $(DOCS_DIR)/robot
	$(VPY) -m robot.libdoc --name IcaLibrary robot/IcaLibrary/ $(DOCS_DIR)/robot/IcaLibrary.html

bench: deps venv firmware renode
	$(VPY) benchmarks/run_all.py

# Fuzzing (docs/fuzzing.md): the atheris fuzzers of the AT engine and the MQTT codec, the
# seeded soak of the AT engine, and the firmware's C fuzzer of its AT library (firmware/host.mk).
# Work corpora and crash inputs go to results/fuzz/; the committed seeds stay in fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_OUT     := results/fuzz
define run_fuzzer
	@mkdir -p $(FUZZ_OUT)/$(2)
	@$(VPY) -m fuzz.$(1) -max_total_time=$(FUZZ_SECONDS) $(3) -artifact_prefix=$(FUZZ_OUT)/ \
	  $(FUZZ_OUT)/$(2) fuzz/corpus/$(2) > $(FUZZ_OUT)/$(1).log 2>&1; rc=$$?; \
	  grep -E "^fuzz_|Traceback|Error|crash-" $(FUZZ_OUT)/$(1).log | tail -5; \
	  [ $$rc = 0 ] || { echo "$(1): FAILED (exit $$rc), see $(FUZZ_OUT)/$(1).log"; exit $$rc; }
endef

fuzz: venv
	$(call run_fuzzer,fuzz_at_engine,at_engine,-dict=fuzz/at.dict)
	$(call run_fuzzer,fuzz_mqtt_codec,mqtt_codec,)
	@$(VPY) -m fuzz.soak_at_engine --seconds $(FUZZ_SECONDS)
	@$(MAKE) -s -C firmware fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_WORK=$(CURDIR)/$(FUZZ_OUT)/ica_at \
	  FUZZ_CRASH=$(CURDIR)/$(FUZZ_OUT)/ica_at-crash-

clean:
	$(MAKE) -C firmware clean || true
	rm -rf results .pytest_cache
