#!/usr/bin/env bash
# The browser tests (tests/console/test_browser.py) drive Debian's chromium through
# chromium-driver. Use them when installed, install them with apt-get when we are root,
# or say what to do and exit non-zero. No browser is ever downloaded by other means.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed; installing chromium and chromium-driver with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
    exit 0
fi
cat >&2 <<MSG
chromium: the browser tests need Debian's chromium and chromium-driver.
  Install them: sudo apt-get install chromium chromium-driver
MSG
exit 1
