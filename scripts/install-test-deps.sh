#!/bin/sh
# install-test-deps.sh installs what `make test` needs beyond Go:
#   - Debian's Chromium, which the console's browser tests
#     (internal/app/console_test.go) drive with chromedp;
#   - Debian's crowdsec-custom-bouncer, the real CrowdSec bouncer that the
#     decision tests (internal/decision/custom_bouncer_test.go) run against
#     Mamori's CrowdSec-compatible API;
#   - Debian's clickhouse-server, which the ClickHouse event store tests
#     (internal/store/clickhouse) start on loopback (scripts/clickhouse-test.sh).
# It does nothing when they are already there.
#
# Needs root (or sudo) and apt. Usage: scripts/install-test-deps.sh
set -eu

sh "$(dirname "$0")/clickhouse-test.sh" install

chromium=${MAMORI_CHROMIUM:-/usr/bin/chromium}
bouncer=${MAMORI_CUSTOM_BOUNCER:-/usr/bin/crowdsec-custom-bouncer}

need_chromium=""
need_bouncer=""
if [ -x "$chromium" ]; then
	echo "chromium: $("$chromium" --version 2>/dev/null || echo "$chromium")"
else
	need_chromium=1
fi
if [ -x "$bouncer" ]; then
	echo "crowdsec-custom-bouncer: $bouncer"
else
	need_bouncer=1
fi
if [ -z "$need_chromium$need_bouncer" ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
$sudo apt-get update -qq
if [ -n "$need_chromium" ]; then
	echo "installing chromium (about a minute)..."
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
	/usr/bin/chromium --version
fi
if [ -n "$need_bouncer" ]; then
	# No recommends: the bouncer recommends the whole crowdsec engine, which
	# the tests do not need (Mamori plays its part).
	echo "installing crowdsec-custom-bouncer..."
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends crowdsec-custom-bouncer >/dev/null
	echo "crowdsec-custom-bouncer: $(command -v crowdsec-custom-bouncer)"
fi
