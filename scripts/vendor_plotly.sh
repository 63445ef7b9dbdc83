#!/usr/bin/env bash
# Refresh the chart library the site ships: plotly.js's "basic" bundle (scatter, bar, pie: what the site
# draws) from npm, vendored into the package with its licence (no CDN, no 64 MB plotly wheel).
#   bash scripts/vendor_plotly.sh [version]      (default: the version vendored now)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-4.1.1}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack -q "plotly.js-basic-dist-min@$version" >/dev/null && tar xzf ./*.tgz)
cp "$scratch/package/plotly-basic.min.js" src/machmeter/site/vendor/plotly-basic.min.js
cp "$scratch/package/LICENSE" src/machmeter/site/vendor/LICENSE.plotly.js.txt
head -3 src/machmeter/site/vendor/plotly-basic.min.js
