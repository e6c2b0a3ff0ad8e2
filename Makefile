# Bluezone developer entry points. Everything installs into ./.venv from pyproject files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PLUGINS := plugins/ble plugins/qr_checkin plugins/demo
STAMP := $(VENV)/.installed
# CI lanes: each distribution installed alone with only its declared dependencies.
CORE_VENV := .venv-core
AUTHORITY_VENV := .venv-authority
PYTEST_FLAGS := -q -p no:cacheprovider
# What `make check` lints and type-checks: the shipped packages (mypy's list is in pyproject.toml).
LINT_PATHS := bluezone authority/bluezone_authority $(filter-out %.egg-info,$(wildcard plugins/*/bluezone_*))

# Message catalogues, one gettext domain per distribution: package dir, domain, locale dir.
CATALOGUES := bluezone:bluezone:bluezone/i18n/locale \
	authority/bluezone_authority:bluezone_authority:authority/bluezone_authority/locale \
	plugins/qr_checkin/bluezone_qr_checkin:bluezone_qr_checkin:plugins/qr_checkin/bluezone_qr_checkin/locale \
	plugins/ble/bluezone_ble:bluezone_ble:plugins/ble/bluezone_ble/locale \
	plugins/demo/bluezone_demo:bluezone_demo:plugins/demo/bluezone_demo/locale

.PHONY: install demo check test messages test-deps lane-core lane-authority lane-authority-early lane-authority-late \
	lane-plugins lane-plugins-own lane-plugins-core bench clean

# Everything, editable: the core (bluezone), the authority (bluezone-authority), the plugins.
install: $(STAMP)

$(STAMP): pyproject.toml authority/pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]' -e 'authority[test]' $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

# An editable install records whether bluezone is a plain or a namespace package;
# reinstall when bluezone/__init__.py (the public API) appears or changes.
$(STAMP) $(CORE_VENV)/.installed $(AUTHORITY_VENV)/.installed: bluezone/__init__.py

$(CORE_VENV)/.installed: pyproject.toml
	test -x $(CORE_VENV)/bin/python || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q -e '.[test]'
	touch $@

$(AUTHORITY_VENV)/.installed: pyproject.toml authority/pyproject.toml
	test -x $(AUTHORITY_VENV)/bin/python || $(PYTHON) -m venv $(AUTHORITY_VENV)
	$(AUTHORITY_VENV)/bin/python -m pip install -q -e '.[test]' -e 'authority[test]'
	touch $@

# Each lane runs one distribution's tests; together they run every test once.
# pytest's exit code 5 (nothing collected) is non-zero, so an empty lane fails.
# A core or authority test that also drives or checks the plugins is marked needs_plugins and
# runs in the plugins lane, where they are installed.
lane-core: $(CORE_VENV)/.installed
	$(CORE_VENV)/bin/python -m pytest $(PYTEST_FLAGS) -m 'not needs_plugins' tests

# The authority's tests are the longest lane, so they run as two halves side by side:
# the server's own files (test_s* to test_z*: server, sync --watch, transports, warnings)
# and the rest (portal, declarations, federation, deploy, ...).
AUTHORITY_LATE := authority/tests/test_[s-z]*.py
lane-authority: lane-authority-early lane-authority-late

lane-authority-early: $(AUTHORITY_VENV)/.installed test-deps
	$(AUTHORITY_VENV)/bin/python -m pytest $(PYTEST_FLAGS) -m 'not needs_plugins' authority/tests \
		--ignore-glob='$(AUTHORITY_LATE)'

lane-authority-late: $(AUTHORITY_VENV)/.installed test-deps
	$(AUTHORITY_VENV)/bin/python -m pytest $(PYTEST_FLAGS) -m 'not needs_plugins' $(AUTHORITY_LATE)

# Also two halves side by side: the plugins' own tests, and the core's and the
# authority's tests that need the plugins installed.
lane-plugins: lane-plugins-own lane-plugins-core

lane-plugins-own: install test-deps
	$(PY) -m pytest $(PYTEST_FLAGS) plugins

lane-plugins-core: install test-deps
	$(PY) -m pytest $(PYTEST_FLAGS) -m needs_plugins tests authority/tests

demo: install
	$(VENV)/bin/bluezone demo

# What CI runs: the core alone, the authority alone (with the core), then the
# plugins with everything installed. A developer's whole suite in one venv:
# '$(PY) -m pytest' (testpaths in pyproject.toml).
# The lanes use separate virtualenvs and run side by side (their tests mostly
# wait on servers and subprocesses); -O keeps each lane's output together.
test: check
	$(MAKE) --no-print-directory -j5 --output-sync=target lane-core lane-authority-early lane-authority-late \
		lane-plugins-own lane-plugins-core

# ruff (lint) and mypy (types); both configured in pyproject.toml. CI runs it first, through `make test`.
check: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(PY) -m mypy

# System tools the tests start themselves: dbus-daemon (private bus with a fake BlueZ).
test-deps:
	@command -v dbus-daemon >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dbus-daemon; } \
		|| { echo "error: dbus-daemon is missing and could not be installed (run as root: apt-get install dbus-daemon); the BLE D-Bus tests need it" >&2; exit 1; }
	@# Debian's chromium for the portal's browser test (Playwright drives it; no browser download).
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: chromium missing; authority/tests/test_portal_browser.py will fail"
	@# Debian's nginx and systemd-analyze for the front in deploy/ (authority/tests/test_deploy_nginx.py).
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; } \
		|| echo "warning: nginx missing; authority/tests/test_deploy_nginx.py will fail"
	@command -v systemd-analyze >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; } \
		|| echo "warning: systemd-analyze missing; authority/tests/test_deploy_nginx.py will fail"
	@# Debian's tmux: tests/test_terminal_vietnamese.py captures a real terminal's screen.
	@command -v tmux >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; } \
		|| echo "warning: tmux missing; tests/test_terminal_vietnamese.py will fail"
	@# Debian's PostgreSQL: the server tests start their own cluster from it (docs/server.md, "Databases").
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
		|| { echo "error: PostgreSQL missing and could not be installed (apt-get install postgresql)"; exit 1; }

# After changing a user-facing text: extract every _() into the templates, merge them into
# each language's .po (translators fill the new entries), compile the .mo files.
messages: install
	@$(foreach c,$(CATALOGUES),$(PY) -m bluezone.i18n.catalogues update $(subst :, ,$(c)) &&) true

bench: install
	$(PY) benchmarks/run.py

# Mutation testing with cosmic-ray (not in CI: one pytest run per mutant; docs/testing.md).
# MODULES="bluezone/sync.py ..." picks modules (default: all, smallest first); BUDGET caps the run in seconds.
.PHONY: mutate
mutate: install
	$(PIP) install -q -e '.[mutate]'
	$(PY) mutation/run.py --budget $(or $(BUDGET),3600) $(if $(REJUDGE),--rejudge) $(MODULES)

clean:
	rm -rf $(VENV) $(CORE_VENV) $(AUTHORITY_VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build
