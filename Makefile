# Two commands: `make run` (install + migrate + serve on the embedded SQLite default) and `make test`.
# `make run` turns the development outbox on: a channel without credentials stores its messages (GET /api/outbox).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install browser run test bench
install: $(VENV)/.installed

# The browser page's tests drive a real Chromium: Debian's package, installed when missing and we may.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then apt-get install -y -q --no-install-recommends chromium >/dev/null || \
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }; \
	else echo "chromium is not installed: the browser page tests will be skipped (run as root to install it)"; fi

run: install
	$(VENV)/bin/coach migrate
	COACH_OUTBOX=true $(VENV)/bin/coach serve --host $(HOST) --port $(PORT)

test: install browser
	$(VENV)/bin/pytest -v

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(VENV)/bin/python $$script || exit 1; done
