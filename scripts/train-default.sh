#!/usr/bin/env bash
# npm run train:default — the shipped model in one command: synthetic masks (once, cached), then training.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/datasets
if [ ! -f .cache/synth/manifest.json ]; then
  node bin/maskwatch.js synth --from "$shared/unmasked-faces" --voc-root "$shared/kaggle-face-mask" \
    --out .cache/synth --per-face 1.3 --voc-per-face 4 --incorrect-share 0.7 --seed 1
fi
exec node bin/maskwatch.js train --config train/default.json "$@"
