# Two commands do all setup on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# The install is redone only when pyproject.toml changes.
STAMP := $(VENV)/.installed

.PHONY: run test install venv migrate clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	# iiif-prezi3 without its Pillow<=12.0.0 pin (see the comment in pyproject.toml).
	$(PY) -m pip install --quiet --no-deps "iiif-prezi3==3.1.1"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# Web server on 127.0.0.1:8000 and a django-q2 worker together; Ctrl-C stops both.
run: migrate
	$(PY) manage.py ensure_admin
	$(PY) manage.py rundev --addr 127.0.0.1:8000

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/test_archive.sqlite3
