#!/usr/bin/env bash
# CI's own-problem phase (.ci/run): the example end to end at its small budgets, through the debug `genius` binary
# that `cargo test --workspace` has already built (this script builds nothing). Installs scikit-learn into
# examples/own-problem/.venv from PyPI (setup.sh), runs experiment-baselines.toml (random search, evolution and TPE,
# 2 seeds of 6 evaluations, every candidate trained for real by train.py) with the GENIUS optimizer added, and checks
# the comparison: every trial complete, every optimizer and seed reported. CI has no language model to spare, so
# GENIUS talks to a stand-in served here on 127.0.0.1 (it answers every request with a random architecture of
# space.toml): this checks the wiring (prompts from the space file, replies parsed, candidates trained), not the
# search's quality. Prints a loud SKIPPED line, and succeeds, where python3 cannot make a virtual environment.
# GENIUS_BIN names another binary. With GENIUS_EXAMPLE_EXECUTOR=slurm every evaluation runs as a SLURM job (CI's SLURM
# phase, on its one-node cluster): the same comparison, checked the same way, plus a finished job per candidate.
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
experiment="$here/.ci-experiment.toml"
server=""
trap 'rm -rf "$out" "$experiment"; [ -z "$server" ] || kill "$server" 2>/dev/null || true' EXIT

# The stand-in model: an OpenAI-compatible chat endpoint that proposes random architectures of space.toml.
python3 - "$here/space.toml" "$out/port" <<'PY' &
import json, random, sys, tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
with open(sys.argv[1], "rb") as f:
    space = tomllib.load(f)
def options(d):
    if d["kind"] == "integer":
        return list(range(d["min"], d["max"] + 1, d.get("step", 1)))
    return d.get("values") or d["options"]
dims = [(d["name"], options(d)) for d in space["dimension"]]
forbidden = [c["forbid"] for c in space.get("constraint", [])]
rng = random.Random(0)
def proposal():
    while True:
        arch = {name: rng.choice(opts) for name, opts in dims}
        if not any(all(arch[k] in v for k, v in f.items()) for f in forbidden):
            return "[" + ", ".join(str(arch[name]) for name, _ in dims) + "]"
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({
            "model": request.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "I suggest " + proposal()}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
PY
server=$!
for _ in $(seq 50); do [ -s "$out/port" ] && break; sleep 0.2; done
[ -s "$out/port" ] || { echo "CI: the stand-in model for the own-problem example did not start" >&2; exit 1; }
{
  cat "$here/experiment-baselines.toml"
  printf '\n[[optimizer]]\nname = "genius"\nsettings = { llm = "openai-compatible", model = "stand-in", base_url = "http://127.0.0.1:%s/v1", cache = "off", protocol = "stateless" }\n' "$(cat "$out/port")"
  case "${GENIUS_EXAMPLE_EXECUTOR:-}" in
    "") ;;
    slurm) printf '\n[executor]\nname = "slurm"\nsettings = { poll_interval_s = 0.5, job_name = "genius-example" }\n' ;;
    *) echo "CI: GENIUS_EXAMPLE_EXECUTOR must be empty or slurm, not ${GENIUS_EXAMPLE_EXECUTOR}" >&2; exit 1 ;;
  esac
} > "$experiment"
GENIUS_OFFLINE=1 "$genius" compare --config "$experiment" --out "$out/compare" --quiet

# The comparison succeeded (it fails when a run fails); check that it holds what it should.
"$here/.venv/bin/python" - "$out/compare" "$experiment" <<'PY'
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
    rows = {r["optimizer"]: r for r in csv.DictReader(f)}
assert set(rows) == optimizers, f"summary rows {sorted(rows)}, expected {sorted(optimizers)}"
assert float(rows["genius"]["llm_calls"]) > 0, "GENIUS asked the stand-in model"
print(f"own-problem example: {len(want)} runs, {len(trials)} candidates trained, every optimizer reported")
PY
if [ "${GENIUS_EXAMPLE_EXECUTOR:-}" = slurm ]; then
  # The candidates were trained by SLURM jobs that finished (the events of each run say so; a repeated proposal is
  # answered from the run's history, not trained again, so there may be fewer jobs than trials).
  jobs="$(find "$out/compare" -name events.jsonl -exec cat {} + | grep -c '"job_finished"' || true)"
  trials="$(($(wc -l < "$out/compare/trials.csv") - 1))"
  [ "$jobs" -gt 0 ] && [ "$jobs" -le "$trials" ] ||
    { echo "CI: $jobs finished SLURM jobs for $trials candidates of the own-problem example" >&2; exit 1; }
  echo "own-problem example on SLURM: $jobs jobs finished for $trials candidates"
fi
