#!/usr/bin/env bash
# CI's own-problem phase (.ci/run): the example end to end at its small budgets, through the debug `genius` binary
# that `cargo test --workspace` has already built (this script builds nothing). Installs scikit-learn into
# examples/own-problem/.venv from PyPI (setup.sh), runs experiment-baselines.toml (random search, evolution and TPE,
# 2 seeds of 6 evaluations, every candidate trained for real by train.py), and checks the comparison: every trial
# complete, every optimizer and seed reported. Prints a loud SKIPPED line, and succeeds, where python3 cannot make a
# virtual environment. GENIUS_BIN names another binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
genius="${GENIUS_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/genius}"

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "CI: SKIPPED the own-problem example: python3 with the venv and ensurepip modules is needed" \
    "(Debian: apt-get install python3-venv)" >&2
  exit 0
fi
if [ ! -x "$genius" ]; then
  echo "CI: the own-problem example needs the genius binary at $genius: run \`cargo test --workspace\` first," \
    "or set GENIUS_BIN" >&2
  exit 1
fi

"$here/setup.sh"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
GENIUS_OFFLINE=1 "$genius" compare --config "$here/experiment-baselines.toml" --out "$out/compare" --quiet

# The comparison succeeded (it fails when a run fails); check that it holds what it should.
"$here/.venv/bin/python" - "$out/compare" "$here/experiment-baselines.toml" <<'PY'
import csv, sys, tomllib
out, config = sys.argv[1], sys.argv[2]
with open(config, "rb") as f:
    exp = tomllib.load(f)
optimizers = {o["name"] for o in exp["optimizer"]}
budget, seeds = max(exp["budgets"]), exp["seeds"]
with open(f"{out}/trials.csv", newline="") as f:
    trials = list(csv.DictReader(f))
bad = [t for t in trials if t["status"] != "complete"]
assert not bad, f"trials that did not complete: {bad}"
runs = {(t["optimizer"], t["seed"]) for t in trials}
want = {(o, str(s)) for o in optimizers for s in range(seeds)}
assert runs == want, f"runs {sorted(runs)}, expected {sorted(want)}"
assert len(trials) == len(want) * budget, f"{len(trials)} trials, expected {len(want) * budget}"
assert all(0.0 <= float(t["report_value"]) <= 100.0 for t in trials), "a held-out accuracy out of [0, 100]"
with open(f"{out}/summary.csv", newline="") as f:
    summary = {r["optimizer"] for r in csv.DictReader(f)}
assert summary == optimizers, f"summary rows {sorted(summary)}, expected {sorted(optimizers)}"
print(f"own-problem example: {len(want)} runs, {len(trials)} candidates trained, every optimizer reported")
PY
