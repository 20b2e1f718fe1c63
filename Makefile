# Pledgeline — run `make help` to see the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
CSS := app/static/dist/app.css
GOVUK := app/static/govuk/govuk-frontend.min.js
# The PDF font: Liberation Sans (SIL OFL) from Debian's fonts-liberation2, copied, never committed.
FONT_DIR ?= /usr/share/fonts/truetype/liberation2
FONTS := app/static/fonts/LiberationSans-Regular.ttf app/static/fonts/LiberationSans-Bold.ttf

.PHONY: help packages test-packages bench-packages install assets db seed run test lint typecheck security check pytest lock clean bench

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

# The Debian packages live in one place, scripts/debian_packages.sh; it checks them on every run
# (one dpkg-query call) and installs what is missing, as root or through sudo.
DEBIAN_PACKAGES := PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/debian_packages.sh

packages: ## Install the Debian packages make run needs, if any is missing
	@$(DEBIAN_PACKAGES) run

test-packages: ## Install the Debian packages make test needs (also Chromium and poppler-utils), if any is missing
	@$(DEBIAN_PACKAGES) test

$(STAMP_PY): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Pledgeline needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0] + ". Run: make PYTHON=python3.12 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

$(STAMP_NPM): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Pledgeline needs Node.js 20 or newer (with npm) to build its stylesheet." >&2; exit 1; }
	@node -e 'const v = process.versions.node; if (+v.split(".")[0] < 20) { console.error("Pledgeline needs Node.js 20 or newer; this is " + v + "."); process.exit(1) }'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CSS): $(STAMP_NPM) $(wildcard scss/*.scss)
	npx sass --pkg-importer=node --style=compressed --no-source-map --no-error-css scss/app.scss $@ || { rm -f $@; exit 1; }

$(GOVUK): $(STAMP_NPM)
	mkdir -p app/static/govuk
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js app/static/govuk/
	rm -rf app/static/govuk/assets && cp -r node_modules/govuk-frontend/dist/govuk/assets app/static/govuk/assets

install: packages $(STAMP_PY) assets ## Install the Debian packages if missing, the virtual environment, Python and npm packages

app/static/fonts/%.ttf: | packages
	@test -f $(FONT_DIR)/$*.ttf || { echo "PDFs need $(FONT_DIR)/$*.ttf: apt-get install fonts-liberation2 (or make FONT_DIR=...)" >&2; exit 1; }
	mkdir -p app/static/fonts
	cp $(FONT_DIR)/$*.ttf $@

assets: $(CSS) $(GOVUK) $(FONTS) ## Build the stylesheet, copy GOV.UK Frontend's scripts and assets and the PDF font

db: $(STAMP_PY) ## Apply database migrations
	$(FLASK) db upgrade

seed: db ## Load the UK council register, the demo campaign and accounts (safe to repeat)
	$(FLASK) councils import
	$(FLASK) seed-demo

run: install db ## Install everything, migrate, load the demo and serve on http://127.0.0.1:5000 (PORT=… to change)
	@$(BIN)/python -m scripts.dev_server

lint: $(STAMP_PY) ## Ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_PY) ## mypy on app/
	$(BIN)/mypy app

security: $(STAMP_PY) ## bandit on app/
	$(BIN)/bandit -q -r app -ll

pytest: test-packages install ## Only the test suite
	$(BIN)/pytest

test: test-packages install lint typecheck security pytest ## Lint, type-check, security scan and the whole test suite

check: test ## Same as test

lock: $(STAMP_PY) ## Re-pin Python dependencies from requirements*.in
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in

bench-packages:
	@$(DEBIAN_PACKAGES) bench

bench: install bench-packages ## Measure speed and memory against DESIGN.md's targets, as ratios (QUICK=1: small and short)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(BENCH_ARGS)

clean: ## Remove built assets and caches (keeps the database)
	rm -rf app/static/dist app/static/govuk app/static/fonts .pytest_cache .mypy_cache .ruff_cache
