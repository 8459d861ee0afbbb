#!/usr/bin/python3
"""tools/warm_start_vocoder.py: the vocoder it writes predicts exactly what its model did.

A tiny random two-speaker model and a tiny vocoder template (fastwave init); the warm-started
vocoder's teacher-forced logits (fastwave eval --logits-out), with any mel, equal those of
the model whose speaker embeddings are all replaced by their mean (the fold into biases),
and differ from either real speaker's; a template without local features and a model that
already has them are one-line errors with exit 1.

    test_warm_start_vocoder.py --fastwave BUILD/fastwave --workdir DIR
"""
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "warm_start_vocoder.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fastwave_format as ff  # noqa: E402
from test_vocoder_report import clip, fastwave_and_fresh_workdir, write_wav  # noqa: E402

SHAPE = ["--blocks", "2", "--layers-per-block", "3", "--residual-channels", "8", "--dilation-channels", "8",
         "--skip-channels", "8", "--end-channels", "8", "--classes", "64"]


def run(cmd, expect_ok=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if expect_ok and r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}: {r.stderr.strip()}")
    return r


def main():
    fw, w = fastwave_and_fresh_workdir()
    path = lambda name: os.path.join(w, name)  # noqa: E731

    run([fw, "init", "-o", path("model.fwm"), "--speakers", "2", "--global-channels", "4", "--seed", "3"] + SHAPE)
    run([fw, "init", "--vocoder", "-o", path("template.fwm"), "--local-channels", "20", "--local-hop", "16",
         "--upsample-scales", "4,4", "--seed", "4"] + SHAPE)
    run([sys.executable, TOOL, path("model.fwm"), path("template.fwm"), "-o", path("warm.fwm")])
    # The model at the mean speaker: every embedding row replaced by the mean.
    config, tensors = ff.read_model(path("model.fwm"))
    emb = tensors["global_embedding.weight"]
    tensors["global_embedding.weight"] = np.repeat(emb.mean(axis=0, keepdims=True), emb.shape[0], axis=0)
    ff.write_model(path("mean.fwm"), config, tensors)

    write_wav(path("in.wav"), clip(1, 180.0, seconds=0.5))
    run([fw, "mel", "-q", "-m", path("warm.fwm"), path("in.wav"), "-o", path("mel.npy")])
    run([fw, "eval", "-m", path("warm.fwm"), "--wav", path("in.wav"), "--local-features", path("mel.npy"),
         "--logits-out", path("warm.npy")])
    logits = {}
    for name, model, speaker in (("mean", "mean.fwm", 0), ("speaker0", "model.fwm", 0), ("speaker1", "model.fwm", 1)):
        run([fw, "eval", "-m", path(model), "--speaker", str(speaker), "--wav", path("in.wav"),
             "--logits-out", path(name + ".npy")])
        logits[name] = np.load(path(name + ".npy"))
    warm = np.load(path("warm.npy"))
    assert warm.shape[0] > 7000, warm.shape
    for name, other in logits.items():
        diff = float(np.abs(warm - other[:warm.shape[0]]).max())
        if name == "mean":
            assert diff < 1e-4, f"warm start differs from the mean speaker by {diff}"
        else:
            assert diff > 1e-3, f"warm start equals {name}'s logits (max difference {diff})"

    for model, template, fragment in ((path("model.fwm"), path("model.fwm"), "not a vocoder"),
                                      (path("warm.fwm"), path("template.fwm"), "already takes local features")):
        r = run([sys.executable, TOOL, model, template, "-o", path("bad.fwm")], expect_ok=False)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and fragment in lines[0], (r.returncode, r.stderr)
        assert not os.path.exists(path("bad.fwm"))
    print("warm_start_vocoder: logits equal the mean speaker's; errors are one line")


if __name__ == "__main__":
    main()
