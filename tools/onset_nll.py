#!/usr/bin/python3
"""Where a model's teacher-forced NLL goes: quiet frames, speech frames, and onsets (the
first 30 ms of sound after at least 50 ms of quiet), in bits per sample.

    /usr/bin/python3 tools/onset_nll.py -m models/speech.fwm --speaker 4 data/speech/test/4 [--files 4]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

FRAME = 160           # 10 ms at 16 kHz
QUIET_DBFS = -45.0    # frames below this count as quiet (flite's pauses are about -50 dBFS)


def mulaw_ids(x, classes=256):
    mu = classes - 1
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(np.floor((y + 1) / 2 * mu + 0.5), 0, mu).astype(np.int64)


def regions(path, logits):
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    ids = mulaw_ids(x)
    n = min(len(logits), len(ids) - 1) // FRAME * FRAME
    logits, target = logits[:n], ids[1:n + 1]
    top = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    nll = (lse - logits[np.arange(n), target]) / np.log(2)
    level = 20 * np.log10(np.sqrt((x[:n].reshape(-1, FRAME) ** 2).mean(axis=1)) + 1e-9)
    quiet = level < QUIET_DBFS
    onset = np.zeros_like(quiet)
    for i in range(5, len(quiet)):
        if not quiet[i] and quiet[i - 5:i].all():
            onset[i:i + 3] = True
    onset &= ~quiet
    per_frame = lambda mask: np.repeat(mask, FRAME)  # noqa: E731
    return nll, per_frame(quiet), per_frame(onset)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", help="a WAV file or a directory of them")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--speaker")
    p.add_argument("--files", type=int, default=4, help="at most this many files of a directory")
    p.add_argument("--fastwave", default="build/fastwave")
    a = p.parse_args()
    files = [a.audio] if os.path.isfile(a.audio) else sorted(
        os.path.join(a.audio, f) for f in os.listdir(a.audio) if f.endswith(".wav"))[:a.files]
    if not files:
        sys.exit(f"onset_nll: no .wav files in {a.audio}")
    parts = {"all": [], "quiet": [], "speech": [], "onsets": []}
    with tempfile.TemporaryDirectory() as work:
        for path in files:
            out = os.path.join(work, "logits.npy")
            cmd = [a.fastwave, "eval", "-m", a.model, "--wav", path, "--logits-out", out]
            if a.speaker is not None:
                cmd += ["--speaker", a.speaker]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"onset_nll: {r.stderr.strip()}")
            nll, quiet, onset = regions(path, np.load(out))
            parts["all"].append(nll)
            parts["quiet"].append(nll[quiet])
            parts["speech"].append(nll[~quiet])
            parts["onsets"].append(nll[onset])
    total = sum(len(x) for x in parts["all"])
    for name, chunks in parts.items():
        values = np.concatenate(chunks)
        print(f"{name:7s} {values.mean() if len(values) else float('nan'):6.3f} bits/sample  "
              f"({100 * len(values) / total:4.1f}% of {total} samples)")


if __name__ == "__main__":
    main()
