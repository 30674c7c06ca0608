#!/usr/bin/env python3
"""experiments/embedded-quality.toml, read off its run logs: the mean best-so-far of the reported metric (chosen by the
search metric) after 1, 3 and 10 queries, the distinct architectures, and the commonest first proposals, per space and
optimizer (BENCHMARKS.md, "Does a model this small search?").

    python3 benches/embedded_quality_curve.py runs/embedded-quality
"""
import glob, json, statistics, sys
root = sys.argv[1]
spaces = {"nas-bench-macro": ("mean_acc", "mean_acc"), "nas-bench-201-cifar10": ("val_acc_200", "test_acc_200")}
for space, (search, report) in spaces.items():
    for opt_dir in sorted(glob.glob(f"{root}/runs/{space}/*")):
        curves, distinct, firsts = [], [], {}
        for f in sorted(glob.glob(opt_dir + "/seed-*/trials.jsonl")):
            rows = [json.loads(l) for l in open(f)]
            rows = [t for t in rows if "arch" in t]
            if len(rows) < 10:
                continue
            best, curve = None, []
            for t in rows[:10]:
                m = (t.get("evaluation") or {}).get("metrics") or {}
                if search in m and (best is None or m[search] > best[0]):
                    best = (m[search], m[report])
                curve.append(best[1] if best else float("nan"))
            curves.append(curve)
            distinct.append(len({tuple(t["arch"]) for t in rows[:10]}))
            first = "".join(map(str, rows[0]["arch"]))
            firsts[first] = firsts.get(first, 0) + 1
        if not curves:
            continue
        at = lambda k: statistics.mean(c[k - 1] for c in curves)
        sd = statistics.stdev(c[9] for c in curves) if len(curves) > 1 else 0.0
        top = sorted(firsts.items(), key=lambda kv: -kv[1])[:3]
        print(f"{space:24} {opt_dir.rsplit('/', 1)[1]:22} n={len(curves):3} k=1 {at(1):6.2f} k=3 {at(3):6.2f} "
              f"k=10 {at(10):6.2f} ± {sd:.2f}  distinct {statistics.mean(distinct):.1f}  first {top}")
