#!/usr/bin/env bash
# Installs everything the tests need into ./.venv (fresh machine friendly) and runs the test suite.
# Usage: bash Testing/run_tests.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
export PYTHONUTF8=1  # reports and model files are UTF-8 whatever the locale
# Browser tests render pages in Debian's chromium (no browser download); the workstation renders
# Slicer's views offscreen with Mesa EGL. Install them when we can (root with apt-get).
BROWSER_PACKAGES="chromium libegl1 libgl1-mesa-dri"
# DICOM tests: dciodvfy (dicom3tools) validates the SEG/SR we write; Orthanc is the PACS of the pacs tests.
DICOM_PACKAGES="dicom3tools orthanc orthanc-dicomweb"
install_debian_packages() {  # $1: what they are for; the rest: packages (a group that fails is skipped alone)
  local purpose="$1"; shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! dpkg -s "$@" >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) \
      || echo "warning: could not install $*; the $purpose tests will be skipped"
  fi
}
install_debian_packages browser $BROWSER_PACKAGES
install_debian_packages DICOM $DICOM_PACKAGES
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
exec .venv/bin/python -m pytest "$@"
