# ICA co-simulation. `make run` runs the demo headless; `make test` runs every test.
# Both install what is missing: Debian packages (when root) and a .venv with the
# pinned Python packages of requirements.txt.

PYTHON    ?= python3
VENV      := .venv
VPY       := $(VENV)/bin/python
APT_PKGS  := qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi mosquitto mosquitto-clients libcoap3-bin chromium
# command that proves each package is there
APT_CMDS  := qemu-system-arm arm-none-eabi-gcc /usr/sbin/mosquitto mosquitto_sub coap-client-notls chromium

.PHONY: all run test deps venv firmware unit-firmware robot bench clean help
all: test

help:
	@echo "make run     the whole demo, headless: cloud + module + STM32 firmware in QEMU"
	@echo "make test    the whole test suite (pytest, firmware host unit tests, Robot suites)"
	@echo "make bench   the benchmarks (figures and ratios to their references)"
	@echo "make deps    install the Debian packages (needs root) ; make venv  the Python venv"

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

firmware: deps
	$(MAKE) -C firmware

unit-firmware: deps
	$(MAKE) -C firmware host-test

run: deps venv firmware
	$(VENV)/bin/pysim run

test: deps venv firmware
	$(VPY) -m pytest -q -rs

robot: deps venv firmware
	$(VENV)/bin/robot --outputdir results robot/

bench: deps venv firmware
	$(VPY) benchmarks/run_all.py

clean:
	$(MAKE) -C firmware clean || true
	rm -rf results .pytest_cache
