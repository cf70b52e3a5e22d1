# Two commands for a newcomer: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# Material prints a notice about its successor on every build; the build output stays readable without it.
export NO_MKDOCS_2_WARNING := 1
# The address the site is built for (canonical links, hreflang, sitemap).
export SITE_URL ?= http://127.0.0.1:$(PORT)/

.PHONY: run test site translations messages bench clean system-packages check-copies

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

# The service's translations: compiled from the .po catalogs (the .mo files are not committed).
translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d forms_service/translations

# After changing a user-facing string: extract, merge into each catalog, then translate the .po files.
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -o forms_service/translations/messages.pot .
	$(BIN)/pybabel -q update -i forms_service/translations/messages.pot -d forms_service/translations

# The PDFs (hooks/paper.py) are rendered after the build: WeasyPrint is too slow to run inside it.
site: $(VENV)/.installed
	@DEBIAN_PACKAGES="$(PDF_PACKAGES)" sh tools/system-packages.sh
	$(BIN)/mkdocs build --quiet
	$(BIN)/python hooks/paper.py site
	$(BIN)/python -m whitenoise.compress --quiet --no-brotli site

run: site translations
	PORT=$(PORT) $(BIN)/python -m forms_service

# The libraries WeasyPrint needs for the PDFs (`make site`), and the system's programs the tests
# drive for real (`make test`): see tools/system-packages.sh.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libfontconfig1 libglib2.0-0 fonts-liberation
system-packages:
	@sh tools/system-packages.sh

test: system-packages $(VENV)/.installed-dev translations
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev site
	$(BIN)/python bench/site.py

# For whoever writes the handbook: passages copied word for word from the source texts.
# SHARED is the folder that holds tools/seed_overlap.py and seeds/ (beside the checkout by default).
SHARED ?= ../shared
check-copies:
	python3 $(SHARED)/tools/seed_overlap.py docs

clean:
	rm -rf site $(VENV)
