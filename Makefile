# Two commands do all setup on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# The install is redone only when pyproject.toml changes.
STAMP := $(VENV)/.installed

.PHONY: run serve-prod test test-fast lint-imports install venv migrate clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev,prod]"
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

# The production recipe on one machine (docs/deploy.md): debug off, static files collected,
# gunicorn with WEB_WORKERS processes and one qcluster; Ctrl-C stops both. Set
# DJANGO_ALLOWED_HOSTS (and DATABASE_URL, Q_REDIS_URL, ARCHIVE_STORAGE) for a real server.
WEB_WORKERS ?= 4
ADDR ?= 127.0.0.1:8000
serve-prod: migrate
	DJANGO_DEBUG=false $(PY) manage.py collectstatic --noinput --verbosity 0
	DJANGO_DEBUG=false $(PY) manage.py rundev --gunicorn $(WEB_WORKERS) --addr $(ADDR)

# The layer contracts (pyproject.toml, [tool.importlinter]; docs/dev/architecture.md).
lint-imports: install
	$(VENV)/bin/lint-imports --no-cache

# The whole suite, as CI runs it: contracts, then every test (real qcluster, browser, training runs).
test: lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# The suite without the slow tests (real subprocesses, browsers, training runs): for iterating.
test-fast: lint-imports
	$(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/test_archive.sqlite3
