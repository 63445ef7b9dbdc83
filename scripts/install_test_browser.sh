#!/usr/bin/env bash
# The site's end-to-end tests open it in a real headless Chromium: Debian's package, driven by
# Playwright's client with executable_path, so no browser is ever downloaded by the tests.
# Installs it when missing (root, or through sudo); does nothing when it is there.
set -euo pipefail
browser=${MACHMETER_CHROMIUM:-/usr/bin/chromium}
if [ -x "$browser" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_test_browser: $browser is missing and there is no apt-get: install Chromium and set MACHMETER_CHROMIUM to it" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium
