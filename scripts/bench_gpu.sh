#!/usr/bin/env bash
# GPU latency of the full-size networks without downloading anything: SAM ViT-B and CLIP
# ViT-B/32 with random weights have the shapes and FLOPs of the real ones. Random SAM masks
# never pass the real IoU/stability filters, so those are off and the proposals capped,
# which keeps the baseline's stock post-processing finite.
# Usage: scripts/bench_gpu.sh [extra zsris bench options], from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null
exec .venv/bin/zsris bench --device cuda --clip-pretrained none --sam-checkpoint none \
    --pred-iou-thresh 0 --stability-score-thresh 0 --points-per-side 16 --max-proposals 50 \
    --frames 10 --commands 4 "$@"
