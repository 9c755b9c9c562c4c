#!/usr/bin/env bash
# Reacher-v5: how the encoder's joint precision depends on the pixels, one run per image setting,
# all with the same data seeds and a short schedule (2500 + 500 steps, one thread each, so two
# settings can run side by side on the two cores).
#   bash benchmarks/reacher/pixels/run.sh SIZE [RENDER]
# SIZE: the dataset's image size (px, square); RENDER: the size MuJoCo renders at before it is
# area-averaged down to SIZE (anti-aliasing; default: SIZE). Writes runs/reacher_pixels/SIZE[_RENDER]/
# and benchmarks/reacher/pixels/precision_SIZEpx[_from_RENDER].json.
set -euo pipefail
SIZE=$1
RENDER=${2:-$SIZE}
NAME=${SIZE}px
[ "$RENDER" != "$SIZE" ] && NAME=${SIZE}px_from_${RENDER}
OUT=runs/reacher_pixels/$NAME
export MUJOCO_GL=${MUJOCO_GL:-egl}
ENV_KWARGS="{\"default_camera_config\": {\"distance\": 0.6, \"elevation\": -90.0, \"azimuth\": 90.0}, \"width\": $RENDER, \"height\": $RENDER}"
for part in "train 300 0" "heldout 40 1"; do
    set -- $part
    jepa-ros collect --env gymnasium:Reacher-v5 --proprio 'obs[0:8]' --size "$SIZE" "$SIZE" \
        --stack 2 --env-kwargs "$ENV_KWARGS" --episodes "$2" --steps 50 --workers 1 --seed "$3" \
        --out "$OUT/data_$1" --no-contact-sheet
done
jepa-ros train --data "$OUT/data_train" --out "$OUT/run" --encoder-steps 2500 \
    --predictor-steps 500 --threads 1
python benchmarks/reacher/precision.py --checkpoint "$OUT/run/model.pt" \
    --data "$OUT/data_heldout" --json "benchmarks/reacher/pixels/precision_$NAME.json"
