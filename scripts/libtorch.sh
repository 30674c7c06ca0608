#!/usr/bin/env bash
# Assembles libtorch 2.13.0 (the version tch 0.26 needs) from PyPI's torch wheel, for genius-train's `tch` feature.
#
#   eval "$(scripts/libtorch.sh)"          # prints the LIBTORCH and LD_LIBRARY_PATH exports, installing on first use
#   cargo test -p genius-train --features tch
#
# libtorch's own download site is not reachable everywhere; PyPI is. The wheel holds libtorch's libraries and headers.
# They are installed into a virtual environment (no dependencies), then a libtorch folder is made of links to them:
# include/ -> the wheel's torch/include, and in lib/ libtorch_cpu.so, libc10.so, libgomp.so.1 and the CUDA runtime
# and CUPTI libraries libtorch_cpu.so was built against, plus an empty libtorch.so, so that torch-sys links the CPU
# library only (no CUDA). `build-version` tells torch-sys the version.
#
# Options:
#   --python   also install what `import torch` needs in that environment (torch's full dependency set, CUDA
#              libraries included: a few GB), for benches/peers/*.py, and print `export GENIUS_TORCH_PYTHON=...`.
# Environment:
#   GENIUS_LIBTORCH_DIR  where to install (default: ~/.cache/genius/libtorch-2.13.0)
set -euo pipefail

VERSION=2.13.0
DIR="${GENIUS_LIBTORCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/genius/libtorch-$VERSION}"
VENV="$DIR/venv"
LIBTORCH="$DIR/libtorch"
log() { echo "libtorch.sh: $*" >&2; }

if [ ! -f "$LIBTORCH/build-version" ]; then
  log "assembling libtorch $VERSION in $DIR (downloads about 530 MB from PyPI once)"
  mkdir -p "$DIR"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "torch==$VERSION" "nvidia-cuda-runtime==13.0.96.*" "nvidia-cuda-cupti==13.0.85.*" >&2
  SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  rm -rf "$LIBTORCH.partial"
  mkdir -p "$LIBTORCH.partial/lib"
  ln -s "$SITE/torch/include" "$LIBTORCH.partial/include"
  for lib in libtorch_cpu.so libc10.so libgomp.so.1; do
    ln -s "$SITE/torch/lib/$lib" "$LIBTORCH.partial/lib/$lib"
  done
  found=0
  while IFS= read -r lib; do
    ln -sf "$lib" "$LIBTORCH.partial/lib/$(basename "$lib")"
    found=$((found + 1))
  done < <(find "$SITE/nvidia" \( -name 'libcudart.so.*' -o -name 'libcupti.so.*' \) -type f)
  if [ "$found" -lt 2 ]; then
    log "the CUDA runtime and CUPTI libraries were not found under $SITE/nvidia"
    exit 1
  fi
  # An empty libtorch.so: torch-sys links `-ltorch`, and the real one pulls in libtorch_cuda.
  cc -shared -o "$LIBTORCH.partial/lib/libtorch.so" -x c /dev/null
  echo "$VERSION" > "$LIBTORCH.partial/build-version"
  rm -rf "$LIBTORCH"
  mv "$LIBTORCH.partial" "$LIBTORCH"
  log "done"
fi

if [ "${1:-}" = "--python" ]; then
  if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    # The wheel's Python extension links libtorch_cuda and the CUDA libraries (cuDNN, NCCL, cuBLAS, ...) even on a
    # CPU-only machine, so `import torch` needs torch's full dependency set: a few GB, once.
    log "installing torch's dependencies so that \`import torch\` works (a few GB of CUDA libraries, once)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "torch==$VERSION" >&2
  fi
  echo "export GENIUS_TORCH_PYTHON=$VENV/bin/python"
fi

echo "export LIBTORCH=$LIBTORCH"
echo "export LD_LIBRARY_PATH=$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
