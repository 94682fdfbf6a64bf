#!/usr/bin/env bash
# GPU latency of the full-size networks without downloading anything: SAM ViT-B and CLIP
# ViT-B/32 with random weights have the shapes and FLOPs of the real ones. Random SAM masks
# would never pass the real IoU/stability filters and NMS would keep one of them, so
# --realistic-load sets the filters where a real scene's share of masks gets through (README,
# Speed); both pipelines run with those settings.
# Usage: scripts/bench_gpu.sh [extra zsris bench options], from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null
exec .venv/bin/zsris bench --device cuda --clip-pretrained none --sam-checkpoint none \
    --realistic-load --points-per-side 16 --frames 10 --commands 4 "$@"
