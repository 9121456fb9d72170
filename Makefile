# Exchange: `make run` starts everything on the embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi

.PHONY: run install install-test test browser-deps lint migrate seed clean translations

# pip speaks only of errors: packaging notices (a build backend's deprecation warnings, index
# locations that a machine's pip configuration names but lacks) are not the user's business.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip --disable-pip-version-check -qq

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test]'
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed demo

run: seed
	PORT=$(PORT) $(BIN)/python -m exchange.devserver

# Browser tests drive Debian's Chromium; install it when we can (root with apt-get).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else \
	    echo "browser tests need /usr/bin/chromium: run 'sudo apt-get install chromium fonts-noto-cjk'"; \
	  fi; \
	fi

test: install-test browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts

# Extract every marked string into exchange/translations/messages.pot (and update catalogues).
translations: install
	PYTHONPATH=. $(BIN)/pybabel extract -F exchange/translations/babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o exchange/translations/messages.pot .
	@if ls exchange/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel update -i exchange/translations/messages.pot -d exchange/translations; \
	  $(BIN)/pybabel compile -d exchange/translations; fi
