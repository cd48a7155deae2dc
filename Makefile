# Enclave: `make run` and `make test` are the two set-up commands (README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: install system-packages run migrate demo test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# nmap (scans), chromium (browser tests), pango (WeasyPrint). Installs what is
# missing when run as root; otherwise says what to install.
system-packages:
	@scripts/system-packages

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: system-packages demo
	@PORT=$(PORT) PY=$(PY) scripts/run-all

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: system-packages install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	@PYTEST=$(VENV)/bin/pytest scripts/test-suite $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
