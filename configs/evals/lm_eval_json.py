#!/usr/bin/env python3
"""Run lm-eval-harness on one model directory and print one JSON object of metrics.

mergesearch's `command` harness calls this with a candidate's temporary directory and reads
the JSON on stdout: one number per task, its main metric (the first of exact_match, acc_norm,
acc, pass@1 that the task reports, in lm-eval's "<metric>,<filter>" keys). Logs go to stderr.
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
    a = p.parse_args()
    import lm_eval  # imported late so --help works without it

    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={a.model_dir},dtype={a.dtype}",
        tasks=a.tasks.split(","),
        limit=a.limit,
        batch_size=a.batch_size,
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
