# Two commands for a newcomer: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The address the site is built for (canonical links, hreflang, sitemap).
export SITE_URL ?= http://127.0.0.1:$(PORT)/

.PHONY: run test site bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

site: $(VENV)/.installed
	$(BIN)/mkdocs build --quiet
	$(BIN)/python -m whitenoise.compress --quiet --no-brotli site

run: site
	PORT=$(PORT) $(BIN)/python -m forms_service

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev site
	$(BIN)/python bench/site.py

clean:
	rm -rf site $(VENV)
