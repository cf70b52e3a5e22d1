#!/bin/sh
# The programs the tests drive for real, from the system's packages: Chromium (browser tests),
# PostgreSQL and Redis (servers the fixtures start), GnuPG (encrypted concern emails) and
# poppler-utils (pdftotext, pdfinfo for the PDF tests); and the libraries WeasyPrint renders the
# handbook's PDFs with (Pango, HarfBuzz, fontconfig, a font). Run by `make test` and `make site`.
# On Debian as root, missing packages are installed; anywhere else this stops with the command to run.
set -eu
PACKAGES="${DEBIAN_PACKAGES:-chromium postgresql redis-server gnupg poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libfontconfig1 libglib2.0-0 fonts-liberation}"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
  done
else
  for package in $PACKAGES; do
    case "$package" in
      chromium|redis-server) program=$package ;;
      postgresql) program=pg_ctl ;;
      gnupg) program=gpg ;;
      poppler-utils) program=pdftotext ;;
      *) continue ;;  # libraries: nothing to look for without dpkg
    esac
    command -v "$program" >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/"$program" >/dev/null 2>&1 \
      || missing="$missing $package"
  done
fi
# A Chromium elsewhere will do for the browser tests.
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then
  missing=$(echo "$missing" | sed 's/ chromium\b//')
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages the tests need:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
  exit 0
fi
echo "The tests need these system packages:$missing. On Debian: sudo apt-get install$missing" >&2
exit 1
