# Two commands: `make run` (install + migrate + serve on the embedded SQLite default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test bench
install: $(VENV)/.installed

run: install
	$(VENV)/bin/coach migrate
	$(VENV)/bin/coach serve --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/pytest -v

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(VENV)/bin/python $$script || exit 1; done
