#!/usr/bin/env bash
# Refresh the chart library the site ships: uPlot (MIT) from npm, its minified IIFE build, stylesheet and
# licence vendored into the package (no CDN). 51 KB (23 KB gzipped): canvas lines, bands and hooks, all
# the benchmark page draws; the overview's sparklines are plain SVG and need no library.
#   bash scripts/vendor_uplot.sh [version]      (default: the version vendored now)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-1.6.32}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack -q "uplot@$version" >/dev/null && tar xzf ./*.tgz)
cp "$scratch/package/dist/uPlot.iife.min.js" src/machmeter/site/vendor/uPlot.iife.min.js
cp "$scratch/package/dist/uPlot.min.css" src/machmeter/site/vendor/uPlot.min.css
cp "$scratch/package/LICENSE" src/machmeter/site/vendor/LICENSE.uPlot.txt
head -c 80 src/machmeter/site/vendor/uPlot.iife.min.js; echo
