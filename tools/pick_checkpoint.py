#!/usr/bin/python3
"""Rank a speech training run's checkpoints by how their free-running output compares with
real speech (the quality table's speech summary), next to their validation NLL.

Free-running quality moves between neighbouring checkpoints far more than the NLL does
(docs/audio-quality.md), so the checkpoint to ship is chosen by both. `fastwave train
--snapshots` keeps every validation's model as OUTPUT.stepN.fwm; its log has the NLLs.

    /usr/bin/python3 tools/pick_checkpoint.py --baselines base.json [--log run/speech.log]
        [--seeds 1,2] [--temperatures 0.9,1.0] [--json ranking.json] run/speech.step*.fwm

base.json is an earlier `tools/quality_table.py --speech MODEL --violin "" --json base.json`
on the same data: its real/noise/silence rows are reused, so each checkpoint costs only its
generations (8 speakers x seeds x temperatures clips of 6 s, and their comparisons).
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_table as qt  # noqa: E402


def valid_nll_by_step(log):
    if not log:
        return {}
    with open(log) as f:
        return {int(m.group(1)): float(m.group(2))
                for m in re.finditer(r"step (\d+) after \S+: valid ([0-9.]+)", f.read())}


def step_of(path):
    m = re.search(r"\.step(\d+)\.fwm$", path)
    return int(m.group(1)) if m else None


def summary(scores):
    in_range = sum(s["own"]["silent"][0] - 0.02 <= s["silent"] <= s["own"]["silent"][1] + 0.02
                   for s in scores.values())
    return {"within_2x": sum(s["ratio"] <= 2 for s in scores.values()),
            "median_ratio": statistics.median(s["ratio"] for s in scores.values()),
            "silent_in_range": in_range,
            "mean_voiced": statistics.mean(s["voiced"] for s in scores.values())}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--baselines", required=True, help="an earlier quality_table.py --json with the speech tables")
    p.add_argument("--log", help="the training log, for each checkpoint's validation NLL")
    p.add_argument("--fastwave", default="build/fastwave")
    p.add_argument("--data", default="data")
    p.add_argument("--speakers", default="0,1,2,3,4,5,6,7")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--temperatures", default="0.9,1.0")
    p.add_argument("--json", help="write every checkpoint's tables and summary here")
    a = p.parse_args()
    for path in a.checkpoints:
        if not os.path.isfile(path):
            sys.exit(f"pick_checkpoint: {path}: no such file")
    with open(a.baselines) as f:
        earlier = json.load(f)
    nll = valid_nll_by_step(a.log)
    speakers = [int(x) for x in a.speakers.split(",")]
    seeds = [int(x) for x in qt.floats(a.seeds)]
    temperatures = qt.floats(a.temperatures)
    results = {}
    print("| checkpoint | valid NLL | speakers within 2x | median ratio | silent frames within real range ±2 points | mean voiced |")
    print("| --- | --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory() as work:
        judge = qt.Judge(a.fastwave, work)
        for path in a.checkpoints:
            tables = qt.speech_tables(judge, path, a.data, speakers, temperatures, seeds, earlier)
            s = summary(qt.speech_scores(tables))
            step = step_of(path)
            results[path] = {"step": step, "valid_nll": nll.get(step), **s, "tables": tables}
            valid = f"{nll[step]:.4f}" if step in nll else ""
            print(f"| {os.path.basename(path)} | {valid} | {s['within_2x']} of {len(speakers)} | "
                  f"{s['median_ratio']:.2f}x | {s['silent_in_range']} of {len(speakers)} | "
                  f"{100 * s['mean_voiced']:.0f}% |", flush=True)
            if a.json:  # after every checkpoint: a long ranking that is stopped keeps what it has
                with open(a.json + ".tmp", "w") as f:
                    json.dump(results, f, indent=1)
                os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
