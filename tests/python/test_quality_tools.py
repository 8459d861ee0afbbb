#!/usr/bin/python3
"""tools/quality_table.py, tools/pick_checkpoint.py and tools/average_models.py end to end on a tiny random
eight-speaker model and a data directory of tones it writes itself: one row per seed and
temperature, the summary averages over seeds, --baselines-from reuses the real/noise/silence
rows unchanged, the ranking reads each checkpoint's validation NLL from the log, the
average of two models is their mean, and bad input is one line and exit 1.

    test_quality_tools.py --fastwave BUILD/fastwave --workdir DIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

from test_vocoder_report import ROOT, fastwave_and_fresh_workdir, write_wav

sys.path.insert(0, os.path.join(ROOT, "tools"))
import fastwave_format as ff  # noqa: E402

QUALITY = os.path.join(ROOT, "tools", "quality_table.py")
AVERAGE = os.path.join(ROOT, "tools", "average_models.py")
PICK = os.path.join(ROOT, "tools", "pick_checkpoint.py")


def run(*cmd, ok=True):
    result = subprocess.run([sys.executable, *cmd], capture_output=True, text=True)
    if ok and result.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}: {result.stderr}")
    return result


def check(condition, what):
    if not condition:
        sys.exit(f"FAIL: {what}")


def main():
    fw, w = fastwave_and_fresh_workdir()
    rate = 16000
    t = np.arange(19 * rate) / rate
    for k in range(8):  # 19 s per speaker: the table cuts three 6 s pieces of each
        tone = 0.3 * np.sin(2 * np.pi * (110 + 20 * k) * t) * (np.sin(2 * np.pi * 2 * t) > 0)
        write_wav(os.path.join(w, "data", "speech", "test", str(k), "a.wav"), tone, rate)
    model = os.path.join(w, "tiny.fwm")
    tiny = ["--residual-channels", "8", "--dilation-channels", "8", "--skip-channels", "8", "--end-channels", "8",
            "--blocks", "1", "--layers-per-block", "3", "--speakers", "8", "--global-channels", "4"]
    subprocess.run([fw, "init", *tiny, "-o", model], check=True, stdout=subprocess.DEVNULL)
    data = os.path.join(w, "data")
    base_json = os.path.join(w, "base.json")
    common = ["--fastwave", fw, "--data", data, "--violin", "", "--speakers", "0,3"]

    run(QUALITY, *common, "--speech", model, "--seeds", "1,2", "--temperatures", "1.0", "--json", base_json)
    with open(base_json) as f:
        base = json.load(f)
    rows = base["speech, speaker 3: against its test audio (6 s clips)"]
    generated = [r for r in rows if r["what"].startswith("model")]
    check([(r["temperature"], r["seed"]) for r in generated] == [(1.0, 1), (1.0, 2)], "a row per seed")
    summary = run(QUALITY, "--summary-from", base_json).stdout
    check("mean of 2 seeds" in summary and "of 2 speakers within 2x" in summary, f"summary: {summary}")

    # Reused baselines are the same rows; only the model rows are new.
    again_json = os.path.join(w, "again.json")
    run(QUALITY, *common, "--speech", model, "--seeds", "3", "--temperatures", "0.9,1.0",
        "--baselines-from", base_json, "--json", again_json)
    with open(again_json) as f:
        again = json.load(f)["speech, speaker 3: against its test audio (6 s clips)"]
    check([r for r in again if not r["what"].startswith("model")] ==
          [r for r in rows if not r["what"].startswith("model")], "baselines reused")
    check([r["what"] for r in again if r["what"].startswith("model")] == ["model, T=0.9", "model, T=1.0"],
          "one seed: rows named by temperature only")

    # Checkpoints ranked, with the NLL of their step from the training log.
    snapshots = [os.path.join(w, f"run.step{s}.fwm") for s in (150, 300)]
    for s in snapshots:
        shutil.copy(model, s)
    log = os.path.join(w, "run.log")
    with open(log, "w") as f:
        f.write("step 150 after 2m10s: valid 4.1234 bits/sample (best, exported)\n"
                "step 300 after 4m20s: valid 4.2000 bits/sample\n")
    ranking = os.path.join(w, "ranking.json")
    out = run(PICK, "--fastwave", fw, "--data", data, "--speakers", "0,3", "--seeds", "1", "--temperatures", "1.0",
              "--baselines", base_json, "--log", log, "--json", ranking, *snapshots).stdout
    check("4.1234" in out and "run.step300.fwm" in out, f"ranking table: {out}")
    with open(ranking) as f:
        ranked = json.load(f)
    check([ranked[s]["valid_nll"] for s in snapshots] == [4.1234, 4.2], "valid NLL by step")
    check(all(0 <= ranked[s]["within_2x"] <= 2 for s in snapshots), "within-2x counts")
    check(ranked[snapshots[0]]["median_ratio"] == ranked[snapshots[1]]["median_ratio"], "same model, same score")

    bad = run(PICK, "--fastwave", fw, "--data", data, "--baselines", base_json, os.path.join(w, "missing.fwm"), ok=False)
    check(bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "missing.fwm" in bad.stderr,
          f"missing checkpoint: {bad.returncode} {bad.stderr}")
    bad = run(QUALITY, *common, "--speech", model, "--seeds", "", ok=False)
    check(bad.returncode == 1 and "--seeds" in bad.stderr, f"empty seeds: {bad.stderr}")

    # Averaging: the mean of two models, tensor by tensor; another config is refused.
    other = os.path.join(w, "other.fwm")
    subprocess.run([fw, "init", *tiny, "--seed", "9", "-o", other], check=True, stdout=subprocess.DEVNULL)
    averaged = os.path.join(w, "averaged.fwm")
    run(AVERAGE, "-o", averaged, model, other)
    (_, a), (_, b), (config, mean) = ff.read_model(model), ff.read_model(other), ff.read_model(averaged)
    check(config["speakers"] == 8 and all(np.allclose(mean[k], (a[k] + b[k]) / 2, atol=1e-7) for k in a),
          "average is the mean")
    subprocess.run([fw, "init", *tiny[:-4], "-o", other], check=True, stdout=subprocess.DEVNULL)
    bad = run(AVERAGE, "-o", averaged, model, other, ok=False)
    check(bad.returncode == 1 and "other.fwm" in bad.stderr and "config" in bad.stderr, f"configs: {bad.stderr}")
    print("quality tools: OK")


if __name__ == "__main__":
    main()
