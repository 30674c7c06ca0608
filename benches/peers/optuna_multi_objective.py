#!/usr/bin/env python3
"""Optuna's multi-objective samplers on the tables genius's multi-objective experiment searches: accuracy against
FLOPs on NAS-Bench-201 CIFAR-10 (val_acc_200:max, flops:min) and NAS-Bench-Macro (mean_acc:max, flops:min), the
hypervolume of each study's Pareto front after 50 and 100 trials above the reference point genius's report recorded,
mean ± sd over the seeds, and Optuna's per-trial overhead.

Samplers: NSGAIISampler (population 10, as experiments/multi-objective.toml gives genius's nsga2; the other settings
Optuna's defaults) and TPESampler (its defaults: multi-objective TPE, 10 start-up trials, 24 candidates). Every
dimension is a categorical parameter; a re-proposed architecture counts as a trial, as in genius.

The tables are the JSON files genius reads (GENIUS_DATA_DIR). NAS-Bench-Macro's table holds FLOPs; NAS-Bench-201's
does not, and genius counts them from each cell's network, where every edge's operation adds the same cost whatever
the other edges hold: the script asks the genius binary (`genius evaluate`) for the FLOPs of the all-`none` cell and
of the 30 cells that differ from it in one edge, and adds them up as genius does.

The reference point is the one genius's report derived for the same spaces and objectives: pass the summary.csv of
that report (--summary); a point of an Optuna front that does not dominate it adds nothing.

Optuna is installed from PyPI into a virtual environment (--venv, made on first use) and the script re-runs itself
there.

    nice python3 benches/peers/optuna_multi_objective.py --genius target/debug/genius \\
        --summary runs/mo-anchor/summary.csv --seeds 100 --json /tmp/optuna-mo.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
SPACES = {
    "nas-bench-201-cifar10": ("val_acc_200", "flops"),
    "nas-bench-macro": ("mean_acc", "flops"),
}


def ensure_optuna(venv):
    """Imports optuna, or installs it into `venv` and runs this script again with that environment's python."""
    try:
        import optuna  # noqa: F401

        return
    except ImportError:
        pass
    python = os.path.join(venv, "bin", "python")
    if os.environ.get("GENIUS_OPTUNA_VENV") == venv:
        sys.exit(f"optuna is not importable in {venv} after installing it; see pip's output above")
    if not os.path.exists(python):
        print(f"installing optuna from PyPI into {venv} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "optuna"], check=True)
    os.environ["GENIUS_OPTUNA_VENV"] = venv
    os.execv(python, [python, *sys.argv])


def nb201_flops(genius, data_dir):
    """genius's FLOPs of every NAS-Bench-201 cell: the all-`none` cell plus what each edge's operation adds."""
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "evaluator.toml")
        with open(config, "w") as f:
            f.write(f'name = "table"\ndata_dir = {json.dumps(data_dir)}\n')

        def flops(ops):
            cell = f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"
            out = subprocess.run(
                [genius, "evaluate", "--space", "nas-bench-201-cifar10", "--arch", cell, "--evaluator", config],
                check=True, capture_output=True, text=True).stdout
            return json.loads(out)["evaluation"]["flops"]

        base = flops(["none"] * 6)
        added = [[flops(["none"] * e + [op] + ["none"] * (5 - e)) - base for op in NB201_OPS] for e in range(6)]
    return lambda choices: base + sum(added[e][c] for e, c in enumerate(choices))


def load_space(name, data_dir, genius):
    """(dimension sizes, lookup(choices) -> (accuracy, flops))."""
    if name == "nas-bench-macro":
        with open(os.path.join(data_dir, "nas-bench-macro", "nas-bench-macro_cifar10.json")) as f:
            table = json.load(f)
        rows = {key: (rec["mean_acc"], rec["flops"]) for key, rec in table.items()}
        return [3] * 8, lambda c: rows["".join(str(x) for x in c)]
    with open(os.path.join(data_dir, "nas-bench-201", "nasbench201_cifar10.json")) as f:
        table = json.load(f)
    acc = {key: rec["val_acc_200"] for key, rec in table.items()}
    flops = nb201_flops(genius, data_dir)

    def lookup(c):
        o = [NB201_OPS[i] for i in c]
        return acc[f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"], flops(c)

    return [5] * 6, lookup


def references(summary):
    """The reference point of each space from genius's summary.csv: {space: (accuracy, flops)}."""
    import csv

    out = {}
    with open(summary) as f:
        for row in csv.DictReader(f):
            ref = row.get("hv_reference") or ""
            if not ref or row["space"] in out:
                continue
            point = dict(kv.split("=", 1) for kv in ref.split(";"))
            acc_name, _ = SPACES[row["space"]]
            out[row["space"]] = (float(point[acc_name]), float(point["flops"]))
    return out


def hypervolume(points, ref):
    """The area dominated by `points` (accuracy up, FLOPs down) and dominating `ref`, exact."""
    ra, rf = ref
    pts = sorted({(a, f) for a, f in points if a > ra and f < rf}, key=lambda p: (-p[0], p[1]))
    area, best_f = 0.0, rf
    for a, f in pts:  # accuracy falling: a point adds the strip its lower FLOPs open up
        if f < best_f:
            area += (a - ra) * (best_f - f)
            best_f = f
    return area


def front(points):
    return [p for p in points if not any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)]


def sampler(kind, seed):
    import optuna

    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
    if kind == "motpe":
        return optuna.samplers.TPESampler(seed=seed)
    sys.exit(f"unknown sampler {kind}")


def run(job):
    """One study; (space, sampler, seed, points in trial order, CPU seconds, wall seconds)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, kind, seed, n_trials, data_dir, genius = job
    sizes, lookup = LOADED.get(space) or LOADED.setdefault(space, load_space(space, data_dir, genius))
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler(kind, seed))
    points = []

    def objective(trial):
        choices = [trial.suggest_categorical(f"d{i}", list(range(k))) for i, k in enumerate(sizes)]
        point = lookup(choices)
        points.append(point)
        return point

    cpu, wall = time.process_time(), time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    return space, kind, seed, points, time.process_time() - cpu, time.perf_counter() - wall


LOADED = {}


def mann_whitney(x, y):
    """The two-sided Mann–Whitney U p-value of samples `x` and `y` (normal approximation, ties corrected)."""
    import math

    pooled = sorted((v, i) for i, v in enumerate(x + y))
    ranks = [0.0] * len(pooled)
    i, ties = 0, 0.0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[pooled[k][1]] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    n1, n2 = len(x), len(y)
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    sd = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sd == 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / sd
    return math.erfc(max(z, 0.0) / math.sqrt(2))


def genius_side(trials, spaces, kinds, budgets, refs, results):
    """genius's runs in `trials` (its report's trials.csv): the hypervolume of each run's front after N trials,
    computed here as for Optuna, beside Optuna's, with the Mann–Whitney p-value of the two samples."""
    import csv

    runs = {}
    with open(trials) as f:
        for row in csv.DictReader(f):
            if row["status"] != "complete" or row["ablation"]:
                continue
            key = (row["space"], row["optimizer"], int(row["seed"]))
            runs.setdefault(key, []).append((int(row["trial"]), float(row["search_value"]), float(row["flops"])))
    print("\ngenius (its trials.csv, hypervolume computed by this script) beside Optuna; p: two-sided Mann–Whitney "
          "U of the two samples of seeds.\n")
    print("| space | optimizer | queries | genius | Optuna | p |")
    print("|---|---|---|---|---|---|")
    for space in spaces:
        for kind in kinds:
            mine = [sorted(v) for k, v in runs.items() if k[0] == space and k[1] == kind]
            theirs = [r for r in results if r[0] == space and r[1] == kind]
            for b in budgets:
                # A trial index counts every evaluation; failed ones (none in these tables) would leave gaps.
                g = [hypervolume(front([(a, fl) for t, a, fl in run if t < b]), refs[space]) for run in mine]
                o = [hypervolume(front(r[3][:b]), refs[space]) for r in theirs]
                print(f"| {space} | {kind} | {b} | {statistics.mean(g):.4g} ± {statistics.stdev(g):.2g} ({len(g)}) "
                      f"| {statistics.mean(o):.4g} ± {statistics.stdev(o):.2g} ({len(o)}) | {mann_whitney(g, o):.2g} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("GENIUS_DATA_DIR", "../shared/data"))
    parser.add_argument("--genius", default="target/release/genius", help="the genius binary (NAS-Bench-201 FLOPs)")
    parser.add_argument("--summary", required=True, help="summary.csv of genius's report: its reference points")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budgets", default="50,100")
    parser.add_argument("--spaces", default="nas-bench-201-cifar10,nas-bench-macro")
    parser.add_argument("--samplers", default="nsga2,motpe")
    parser.add_argument("--venv", default=os.path.join(HERE, ".venv"))
    parser.add_argument("--json")
    parser.add_argument("--trials", help="trials.csv of genius's report: its runs' hypervolumes beside Optuna's")
    args = parser.parse_args()
    ensure_optuna(args.venv)
    import optuna

    budgets = sorted(int(b) for b in args.budgets.split(","))
    spaces = [s for s in args.spaces.split(",") if s]
    kinds = [k for k in args.samplers.split(",") if k]
    refs = references(args.summary)
    data_dir = os.path.abspath(args.data_dir)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results = []
    for space in spaces:
        for kind in kinds:
            for seed in seeds:
                results.append(run((space, kind, seed, budgets[-1], data_dir, args.genius)))

    print(f"Optuna {optuna.__version__}, {len(seeds)} seeds ({seeds.start}..{seeds.stop - 1}); hypervolume of the "
          "Pareto front of the first N trials above genius's reference point, mean ± sd (mean front size); "
          "per-trial overhead: CPU (wall) µs of the whole study per trial, the table look-up included.\n")
    print("| space | sampler | reference | " + " | ".join(f"{b} queries" for b in budgets) + " | µs/trial |")
    print("|---|---|---|" + "---|" * len(budgets) + "---|")
    records = []
    for space in spaces:
        ref = refs[space]
        for kind in kinds:
            rows = [r for r in results if r[0] == space and r[1] == kind]
            cells = []
            for b in budgets:
                hvs = [hypervolume(front(r[3][:b]), ref) for r in rows]
                sizes = [len(set(front(r[3][:b]))) for r in rows]
                m, sd = statistics.mean(hvs), statistics.stdev(hvs) if len(hvs) > 1 else 0.0
                cells.append(f"{m:.4g} ± {sd:.2g} ({statistics.mean(sizes):.1f})")
                records.append({"space": space, "sampler": kind, "budget": b, "mean": m, "sd": sd, "values": hvs,
                                "front_size": statistics.mean(sizes), "reference": ref,
                                "optuna": optuna.__version__})
            trials = sum(len(r[3]) for r in rows)
            cpu_us = sum(r[4] for r in rows) / trials * 1e6
            wall_us = sum(r[5] for r in rows) / trials * 1e6
            records.append({"space": space, "sampler": kind, "cpu_us_per_trial": cpu_us,
                            "wall_us_per_trial": wall_us, "trials": trials})
            print(f"| {space} | {kind} | {ref[0]:g}, {ref[1]:.4g} | " + " | ".join(cells)
                  + f" | {cpu_us:.0f} ({wall_us:.0f}) |", flush=True)
    if args.trials:
        genius_side(args.trials, spaces, kinds, budgets, refs, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
