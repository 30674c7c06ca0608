#!/usr/bin/env python3
"""The comparison grid of benches/compare_grid.rs run with Optuna: three samplers x N seeds x 100 queries on
NAS-Bench-201 CIFAR-10, one study after another in this process, with Optuna's in-memory storage. Prints the wall time
of each sampler's share of the grid and of the whole grid, and the mean best reported (test) accuracy, so that the
two grids can be checked to do comparable work.

The samplers stand beside genius's random search, regularized evolution and TPE: RandomSampler, NSGAIISampler (a
genetic algorithm: Optuna has no regularized evolution; single-objective NSGA-II is its evolutionary sampler) and
TPESampler. Every dimension is a categorical parameter; a re-proposed architecture counts as a trial, as in genius.

    python3 -m venv /tmp/optuna-venv && /tmp/optuna-venv/bin/pip install optuna
    /tmp/optuna-venv/bin/python benches/peers/optuna_grid.py --data-dir ../shared/data --seeds 1000
"""

import argparse
import os
import statistics
import time

import optuna

from optuna_quality import best_reported, load_space


def sampler(kind, seed):
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise SystemExit(f"unknown sampler {kind}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("GENIUS_DATA_DIR", "../shared/data"))
    parser.add_argument("--space", default="nas-bench-201-cifar10")
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--samplers", default="random,nsga2,tpe")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes, lookup, _, _ = load_space(args.space, args.data_dir)

    total = 0.0
    print(f"Optuna {optuna.__version__}, {args.space}, {args.seeds} seeds x {args.budget} queries per sampler\n")
    print("| sampler | wall s | µs/trial | best reported, mean over seeds |")
    print("|---|---|---|---|")
    for kind in [s for s in args.samplers.split(",") if s]:
        best = []
        start = time.perf_counter()
        for seed in range(args.seeds):
            study = optuna.create_study(direction="maximize", sampler=sampler(kind, seed))
            reported = []

            def objective(trial):
                choices = [trial.suggest_categorical(f"d{i}", list(range(k))) for i, k in enumerate(sizes)]
                search, report = lookup(choices)
                reported.append(report)
                return search

            study.optimize(objective, n_trials=args.budget)
            best.append(best_reported([t.value for t in study.trials], reported, args.budget))
        elapsed = time.perf_counter() - start
        total += elapsed
        per_trial = elapsed / (args.seeds * args.budget) * 1e6
        print(f"| {kind} | {elapsed:.1f} | {per_trial:.0f} | {statistics.mean(best):.2f} |", flush=True)
    print(f"\ngrid: {total:.1f} s")


if __name__ == "__main__":
    main()
