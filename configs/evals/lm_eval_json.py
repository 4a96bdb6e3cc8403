#!/usr/bin/env python3
"""Run lm-eval-harness on one model directory and print one JSON object of metrics.

mergesearch's `command` harness calls this with a candidate's temporary directory and reads
the JSON on stdout: one number per task, its main metric (the first of exact_match, acc_norm,
acc, pass@1 that the task reports, in lm-eval's "<metric>,<filter>" keys). Logs go to stderr.

`--split search` scores the first `--limit` documents of each task; `--split heldout` the next
`--limit` ones (through simple_evaluate's `samples` argument; an lm-eval without it scores the
whole task instead, and says so on stderr).
"""
import argparse
import json
import sys

PREFERRED = ("exact_match", "acc_norm", "acc", "pass@1")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("model_dir")
    p.add_argument("--tasks", required=True, help="comma-separated lm-eval task names")
    p.add_argument("--limit", type=int, default=None, help="examples per task")
    p.add_argument("--batch-size", default="auto")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--split", choices=["search", "heldout"], default="search")
    a = p.parse_args()
    import inspect

    import lm_eval  # imported late so --help works without it

    tasks = a.tasks.split(",")
    kwargs = {"limit": a.limit}
    if a.split == "heldout" and a.limit:
        if "samples" in inspect.signature(lm_eval.simple_evaluate).parameters:
            kwargs = {"samples": {t: list(range(a.limit, 2 * a.limit)) for t in tasks}}
        else:
            print("this lm-eval has no `samples` argument: held-out scores use whole tasks",
                  file=sys.stderr)
            kwargs = {"limit": None}
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={a.model_dir},dtype={a.dtype}",
        tasks=tasks,
        batch_size=a.batch_size,
        **kwargs,
    )
    metrics = {}
    for task, values in out["results"].items():
        for name in PREFERRED:
            keys = [k for k in values if k.split(",")[0] == name]
            if keys:
                metrics[task] = float(values[sorted(keys)[0]])
                break
        else:
            print(f"{task}: none of {PREFERRED} reported: {sorted(values)}", file=sys.stderr)
            return 1
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
