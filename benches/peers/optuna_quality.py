#!/usr/bin/env python3
"""Optuna's RandomSampler and TPESampler on the same benchmark tables as genius's baselines, for a side-by-side
quality report and a per-trial overhead figure.

The tables are read directly (the JSON files genius reads). Every architecture dimension is a categorical parameter
(choices 0..k-1); the objective returns the search metric and keeps the reported metric as a user attribute. A
re-proposed architecture is looked up again and counts as a trial, as it does in genius (duplicates count). For each
seed and budget, the best trial by the search metric among the first `budget` trials (the earliest among ties) gives
the reported metric; the script prints mean ± sd over the seeds.

    python3 -m venv benches/peers/.venv && benches/peers/.venv/bin/pip install optuna
    benches/peers/.venv/bin/python benches/peers/optuna_quality.py --data-dir ../shared/data --seeds 200

Options: --seeds N (0..N-1), --budgets 10,50,100, --spaces nas-bench-macro,nas-bench-201-cifar10, --samplers
random,tpe,tpe-independent, --workers W (processes for the quality runs), --json FILE, --overhead-seeds N (studies
timed in this process, one at a time, for the per-trial overhead; 0 skips it).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from multiprocessing import Pool

import optuna

NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def load_space(name, data_dir):
    """(dimension sizes, lookup(choices) -> (search, reported), search name, reported name)."""
    if name == "nas-bench-macro":
        with open(os.path.join(data_dir, "nas-bench-macro", "nas-bench-macro_cifar10.json")) as f:
            table = json.load(f)
        acc = {key: rec["mean_acc"] for key, rec in table.items()}

        def lookup(choices):
            v = acc["".join(str(c) for c in choices)]
            return v, v

        return [3] * 8, lookup, "mean_acc", "mean_acc"
    if name.startswith("nas-bench-201-"):
        dataset = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}[name[len("nas-bench-201-"):]]
        with open(os.path.join(data_dir, "nas-bench-201", f"nasbench201_{dataset}.json")) as f:
            table = json.load(f)
        rows = {key: (rec["val_acc_200"], rec["test_acc_200"]) for key, rec in table.items()}

        def lookup(c):
            o = [NB201_OPS[i] for i in c]
            key = f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"
            return rows[key]

        return [5] * 6, lookup, "val_acc_200", "test_acc_200"
    sys.exit(f"unknown space {name}")


def make_sampler(kind, seed):
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "tpe-independent":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    sys.exit(f"unknown sampler {kind}")


def run_study(space, data_dir, kind, seed, n_trials):
    """One study; returns (search values, reported values, seconds per trial)."""
    sizes, lookup, _, _ = SPACES.get((space, data_dir)) or load_cached(space, data_dir)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(kind, seed))
    reported = []

    def objective(trial):
        choices = [trial.suggest_categorical(f"d{i}", list(range(k))) for i, k in enumerate(sizes)]
        search, report = lookup(choices)
        reported.append(report)
        return search

    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    elapsed = time.perf_counter() - start
    values = [t.value for t in study.trials]
    return values, reported, elapsed / n_trials


SPACES = {}


def load_cached(space, data_dir):
    SPACES[(space, data_dir)] = load_space(space, data_dir)
    return SPACES[(space, data_dir)]


def quality_job(job):
    space, data_dir, kind, seed, n_trials = job
    values, reported, per_trial = run_study(space, data_dir, kind, seed, n_trials)
    return space, kind, seed, values, reported, per_trial


def best_reported(values, reported, budget):
    best, rep = -math.inf, None
    for v, r in zip(values[:budget], reported[:budget]):
        if v > best:
            best, rep = v, r
    return rep


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("GENIUS_DATA_DIR", "../shared/data"))
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--budgets", default="10,50,100")
    parser.add_argument("--spaces", default="nas-bench-macro,nas-bench-201-cifar10")
    parser.add_argument("--samplers", default="random,tpe,tpe-independent")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json")
    parser.add_argument("--overhead-seeds", type=int, default=5)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    spaces = [s for s in args.spaces.split(",") if s]
    samplers = [s for s in args.samplers.split(",") if s]
    n_trials = budgets[-1]

    jobs = [(sp, args.data_dir, k, seed, n_trials) for sp in spaces for k in samplers for seed in range(args.seeds)]
    with Pool(args.workers) as pool:
        results = pool.map(quality_job, jobs, chunksize=4)

    print(f"Optuna {optuna.__version__}: best architecture by the search metric, its reported metric: mean ± sd over "
          f"{args.seeds} seeds (0..{args.seeds}); duplicates count as trials.\n")
    records = []
    for sp in spaces:
        _, _, search, report = load_cached(sp, args.data_dir)
        print(f"### {sp} (searched: {search}, reported: {report})\n")
        print("| sampler | " + " | ".join(f"{b} queries" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        for k in samplers:
            rows = [r for r in results if r[0] == sp and r[1] == k]
            cells = []
            for b in budgets:
                vals = [best_reported(r[3], r[4], b) for r in rows]
                m, sd = statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"{m:.2f} ± {sd:.2f}")
                records.append({"space": sp, "sampler": k, "budget": b, "mean": m, "sd": sd,
                                "seeds": len(vals), "values": vals, "optuna": optuna.__version__})
            print(f"| {k} | " + " | ".join(cells) + " |")
        print()

    if args.overhead_seeds > 0:
        # Timed one study at a time in this process: the per-trial time of ask + objective (a dict look-up) + tell
        # and Optuna's in-memory storage, over a 100-trial study, and (TPE) over trials 101-200 of a 200-trial
        # study, whose history holds 100 to 199 trials.
        print("### Optuna per-trial overhead (in-memory storage, table look-up objective)\n")
        print("| sampler | space | µs/trial, trials 1-100 | µs/trial, trials 101-200 |")
        print("|---|---|---|---|")
        for sp in spaces:
            for k in samplers:
                first, second = [], []
                for seed in range(args.overhead_seeds):
                    sizes, lookup, _, _ = load_cached(sp, args.data_dir)
                    study = optuna.create_study(direction="maximize", sampler=make_sampler(k, 10_000 + seed))
                    stamps = []

                    def objective(trial):
                        choices = [trial.suggest_categorical(f"d{i}", list(range(n))) for i, n in enumerate(sizes)]
                        return lookup(choices)[0]

                    def callback(study, trial):
                        stamps.append(time.perf_counter())

                    start = time.perf_counter()
                    study.optimize(objective, n_trials=200, callbacks=[callback])
                    first.append((stamps[99] - start) / 100)
                    second.append((stamps[199] - stamps[99]) / 100)
                f, s = statistics.mean(first) * 1e6, statistics.mean(second) * 1e6
                print(f"| {k} | {sp} | {f:.0f} | {s:.0f} |")
                records.append({"space": sp, "sampler": k, "overhead_us_first_100": f, "overhead_us_101_200": s,
                                "studies": args.overhead_seeds, "optuna": optuna.__version__})
        print()

    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
