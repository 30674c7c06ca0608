#!/usr/bin/env python3
"""Trains one candidate of space.toml for real and prints its metrics: the "your own training script" of genius's
command evaluator. A scikit-learn MLP on the digits data set that scikit-learn ships (no download), seconds per
candidate on one core.

    train.py --arch '{"layers": 2, "width": 64, ...}' --seed 0 --out result.json

The data is split once, by a fixed seed, into train (60%), validation (20%) and test (20%): the search sees the
validation accuracy, the test accuracy is held out for the report. The result is one JSON object, written to --out
(genius also reads the last JSON line of standard output).
"""

import argparse
import json
import sys
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, help="the architecture as a JSON object keyed by dimension name")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the network's initial weights")
    parser.add_argument("--out", required=True, help="where to write the result JSON")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    arch = json.loads(args.arch)
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    # The split never depends on the candidate or the search's seed: every candidate is judged on the same data.
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, random_state=2024, stratify=y)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=2024, stratify=y_rest)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = scaler.transform(x_train), scaler.transform(x_val), scaler.transform(x_test)

    model = MLPClassifier(
        hidden_layer_sizes=(int(arch["width"]),) * int(arch["layers"]),
        activation=arch["activation"],
        learning_rate_init=float(arch["learning_rate"]),
        alpha=float(arch["alpha"]),
        max_iter=args.epochs,
        random_state=args.seed,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        # A fixed epoch budget leaves slow designs unconverged: that is part of what the search judges.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    seconds = time.perf_counter() - started
    params = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
    result = {
        "val_acc": 100.0 * model.score(x_val, y_val),
        "test_acc": 100.0 * model.score(x_test, y_test),
        "cost_s": seconds,
        "params": int(params),
    }
    print(f"trained {arch} in {seconds:.2f} s", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
