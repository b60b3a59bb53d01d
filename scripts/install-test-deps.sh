#!/bin/sh
# install-test-deps.sh installs what `make test` needs beyond Go: Debian's
# Chromium, which the console's browser tests (internal/app/console_test.go)
# drive with chromedp. It does nothing when Chromium is already there.
#
# Needs root (or sudo) and apt. Usage: scripts/install-test-deps.sh
set -eu

chromium=${MAMORI_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
	echo "chromium: $("$chromium" --version 2>/dev/null || echo "$chromium")"
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
echo "installing chromium (about a minute)..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
