#!/usr/bin/env bash
# Makes the demo page's video (DEMO_PAGE=true serves it at /demo/clip.webm) with Debian's ffmpeg
# (`bash scripts/ci/browser-tools.sh` installs it): a test pattern with a running clock, VP8 in
# WebM, nothing committed. Usage: DATA_DIR=./data bash scripts/demo-clip.sh [seconds] [WxH]
set -euo pipefail
seconds="${1:-12}"
size="${2:-640x360}"
out="${DATA_DIR:-./data}/demo/clip.webm"
mkdir -p "$(dirname "$out")"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=${size}:rate=25:duration=${seconds}" \
  -c:v libvpx -b:v 500k -deadline realtime -cpu-used 8 -an "$out.tmp.webm"
mv "$out.tmp.webm" "$out"
echo "$out"
