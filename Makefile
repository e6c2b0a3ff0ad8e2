# Bluezone developer entry points. Everything installs into ./.venv from pyproject files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PLUGINS := plugins/transport plugins/ble plugins/qr_checkin plugins/demo
STAMP := $(VENV)/.installed

# What `make check` lints and type-checks: the shipped packages (mypy's list is in pyproject.toml).
LINT_PATHS := bluezone $(filter-out %.egg-info,$(wildcard plugins/*/bluezone_*))

.PHONY: install demo check test test-deps bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]' $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

# An editable install records whether bluezone is a plain or a namespace package;
# reinstall when bluezone/__init__.py (the public API) appears or changes.
$(STAMP): bluezone/__init__.py

demo: install
	$(VENV)/bin/bluezone demo

# ruff (lint) and mypy (types); both configured in pyproject.toml. CI runs it through `make test`.
check: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(PY) -m mypy

test: install test-deps check
	$(PY) -m pytest -q

# System tools the tests start themselves: dbus-daemon (private bus with a fake BlueZ).
test-deps:
	@command -v dbus-daemon >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dbus-daemon; } \
		|| echo "warning: dbus-daemon missing; the BLE D-Bus tests will be skipped"
	@# Debian's chromium for the portal's browser test (Playwright drives it; no browser download).
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: chromium missing; tests/test_portal_browser.py will fail"

bench: install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build
