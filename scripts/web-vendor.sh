#!/bin/sh
# web-vendor.sh refreshes the console's vendored front-end files in
# internal/web/static/vendor/. It is run by hand when a version below changes,
# never by `go build` or `make`: the built files are committed, so building
# and running Mamori needs no Node toolchain.
#
# It installs the pinned packages from the npm registry into a temporary
# directory (install scripts disabled), bundles a custom Apache ECharts build
# with only what the console uses (bar and line charts, grid, tooltip, legend,
# canvas renderer) into one minified ES module, and copies the licences.
#
# Needs: node and npm. Usage: scripts/web-vendor.sh
set -eu

ECHARTS_VERSION=6.1.0 # https://www.npmjs.com/package/echarts (Apache-2.0; pulls zrender, BSD-3-Clause, and tslib, 0BSD)
ESBUILD_VERSION=0.28.2 # bundler, used here only

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/internal/web/static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
printf '{"name":"mamori-web-vendor","private":true}\n' >package.json
npm install --silent --no-audit --no-fund --ignore-scripts --save-exact \
	"echarts@$ECHARTS_VERSION" "esbuild@$ESBUILD_VERSION"

zrender_version=$(node -p 'require("./node_modules/zrender/package.json").version')

cat >entry.js <<'JS'
import { use } from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, LegendComponent, AriaComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, CanvasRenderer]);
export * from 'echarts/core';
JS

./node_modules/.bin/esbuild entry.js --bundle --minify --format=esm --target=es2020 \
	--define:process.env.NODE_ENV='"production"' --legal-comments=none \
	--banner:js="/*! Apache ECharts $ECHARTS_VERSION (custom build: bar, line, grid, tooltip, legend, aria, canvas) with ZRender $zrender_version. Apache-2.0 and BSD-3-Clause: see LICENSE-echarts.txt, NOTICE-echarts.txt and LICENSE-zrender.txt. Built by scripts/web-vendor.sh. */" \
	--outfile=echarts.min.js

mkdir -p "$out"
cp echarts.min.js "$out/echarts.min.js"
cp node_modules/echarts/LICENSE "$out/LICENSE-echarts.txt"
cp node_modules/echarts/NOTICE "$out/NOTICE-echarts.txt"
cp node_modules/zrender/LICENSE "$out/LICENSE-zrender.txt"
cat >"$out/VERSIONS.txt" <<TXT
echarts $ECHARTS_VERSION (npm), custom build by scripts/web-vendor.sh with esbuild $ESBUILD_VERSION
zrender $zrender_version (npm, dependency of echarts)
TXT
ls -l "$out"
