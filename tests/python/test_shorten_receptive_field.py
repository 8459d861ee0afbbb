#!/usr/bin/python3
"""tools/shorten_receptive_field.py: the layers it keeps compute what they did.

A tiny random vocoder (fastwave init --vocoder, 2 blocks x 3 layers) whose last layer in each
block has zero residual and skip convs contributes nothing to the output; cut to 2 layers per
block, its teacher-forced logits (fastwave eval --logits-out, with a mel) are unchanged, and
its receptive field shrinks from 29 to 13 samples (kernel 3). Cutting the same model with
its last layers intact changes the logits. Keeping every layer or none is a one-line error with exit 1.

    test_shorten_receptive_field.py --fastwave BUILD/fastwave --workdir DIR
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "shorten_receptive_field.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fastwave_format as ff  # noqa: E402
from test_vocoder_report import clip, fastwave_and_fresh_workdir, write_wav  # noqa: E402
from test_warm_start_vocoder import run  # noqa: E402

SHAPE = ["--blocks", "2", "--layers-per-block", "3", "--residual-channels", "8", "--dilation-channels", "8",
         "--skip-channels", "8", "--end-channels", "8", "--classes", "64", "--local-channels", "20",
         "--local-hop", "16", "--upsample-scales", "4,4"]


def main():
    fw, w = fastwave_and_fresh_workdir()
    path = lambda name: os.path.join(w, name)  # noqa: E731

    run([fw, "init", "--vocoder", "-o", path("full.fwm"), "--seed", "5", "--bias"] + SHAPE)
    config, tensors = ff.read_model(path("full.fwm"))
    for block in range(2):
        for conv in ("residual_convs", "skip_convs"):
            for part in ("weight", "bias"):
                name = f"{conv}.{block * 3 + 2}.{part}"
                tensors[name] = np.zeros_like(tensors[name])
    ff.write_model(path("silent_last.fwm"), config, tensors)

    write_wav(path("in.wav"), clip(2, 210.0, seconds=0.5))
    run([fw, "mel", "-q", "-m", path("full.fwm"), path("in.wav"), "-o", path("mel.npy")])
    logits = {}
    for name in ("full", "silent_last"):
        r = run([sys.executable, TOOL, path(name + ".fwm"), "--layers-per-block", "2", "-o", path(name + "2.fwm")])
        assert "receptive field 29 -> 13 samples" in r.stderr, r.stderr
        for model in (name, name + "2"):
            run([fw, "eval", "-m", path(model + ".fwm"), "--wav", path("in.wav"), "--local-features",
                 path("mel.npy"), "--logits-out", path(model + ".npy")])
            logits[model] = np.load(path(model + ".npy"))
    short_config, _ = ff.read_model(path("silent_last2.fwm"))
    assert short_config["layers_per_block"] == 2 and short_config["blocks"] == 2, json.dumps(short_config)
    unchanged = float(np.abs(logits["silent_last"] - logits["silent_last2"]).max())
    assert unchanged < 1e-4, f"the kept layers' logits moved by {unchanged}"
    changed = float(np.abs(logits["full"] - logits["full2"]).max())
    assert changed > 1e-3, f"dropping live layers left the logits equal (max difference {changed})"

    for k in ("3", "0"):
        r = run([sys.executable, TOOL, path("full.fwm"), "--layers-per-block", k, "-o", path("bad.fwm")],
                expect_ok=False)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and "full.fwm" in lines[0], (r.returncode, r.stderr)
        assert not os.path.exists(path("bad.fwm"))
    print("shorten_receptive_field: silent layers drop out exactly; errors are one line")


if __name__ == "__main__":
    main()
