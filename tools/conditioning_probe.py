#!/usr/bin/python3
"""How much a vocoder listens to its mel-spectrogram, and to its timing (docs/vocoder.md).

Teacher-forced NLL (`fastwave eval`) of held-out utterances under the vocoder, given each
utterance's own log-mel and then the same frames altered:

* shifted by 1, 2 and 4 frames (np.roll): a vocoder that follows the mel in time pays
  for every frame of misalignment;
* in a random order: the same frames, so the same speaker, level and spectra, but not when;
* another utterance's frames (the next utterance in the list, a different speaker);
* all zeros.

    /usr/bin/python3 tools/conditioning_probe.py -m VOCODER.fwm UTTERANCE.wav... [--seconds 6]
        [--fastwave build/fastwave] [--markdown OUT.md]

Prints one row per alteration: the mean NLL in bits/sample over the utterances and its
change from their own mel. Run it under `nice`; it runs one `fastwave eval` per utterance
and alteration, one thread each.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    print(f"conditioning_probe: {message}", file=sys.stderr)
    sys.exit(1)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        fail(lines[-1] if lines else f"{cmd[0]} exited with {r.returncode}")
    return r.stdout


def alterations(own, other, rng):
    """Name -> frames of the same shape as `own`."""
    n = own.shape[0]
    other = np.resize(other, own.shape) if other.shape[0] < n else other[:n]
    out = {"own mel": own}
    for s in (1, 2, 4):
        out[f"shifted {s} frame{'s' if s > 1 else ''} later"] = np.roll(own, s, axis=0)
    out["frames in random order"] = own[rng.permutation(n)]
    out["another utterance's mel"] = other
    out["zeros"] = np.zeros_like(own)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-m", "--model", required=True)
    p.add_argument("utterances", nargs="+", help="at least two .wav files")
    p.add_argument("--seconds", type=float, default=6.0, help="score at most the first S seconds of each")
    p.add_argument("--fastwave", default=os.path.join(ROOT, "build", "fastwave"))
    p.add_argument("--markdown", help="also write the table here")
    a = p.parse_args()
    if len(a.utterances) < 2:
        fail("give at least two utterances (each borrows the next one's mel)")
    for path in [a.model, a.fastwave] + a.utterances:
        if not os.path.exists(path):
            fail(f"'{path}' does not exist")
    rng = np.random.default_rng(0)
    totals = {}
    with tempfile.TemporaryDirectory() as work:
        mels = []
        for i, wav in enumerate(a.utterances):
            out = os.path.join(work, f"{i}.npy")
            run([a.fastwave, "mel", "-q", "-m", a.model, wav, "-o", out])
            mels.append(np.load(out))
        for i, wav in enumerate(a.utterances):
            other = mels[(i + 1) % len(mels)]
            for name, frames in alterations(mels[i], other, rng).items():
                path = os.path.join(work, "probe.npy")
                np.save(path, frames.astype(np.float32))
                text = run([a.fastwave, "eval", "-m", a.model, "--wav", wav, "--local-features", path,
                            "--threads", "1", "--max-seconds", str(a.seconds)])
                m = re.search(r"NLL ([0-9.]+) bits/sample over (\d+) positions", text)
                if not m:
                    fail(f"no NLL in fastwave eval's output for '{wav}'")
                bits, count = totals.get(name, (0.0, 0))
                totals[name] = (bits + float(m.group(1)) * int(m.group(2)), count + int(m.group(2)))
            print(f"{wav}: done", file=sys.stderr)
    own = totals["own mel"][0] / totals["own mel"][1]
    lines = ["| features | NLL bits/sample | change |", "| --- | ---: | ---: |"]
    for name, (bits, count) in totals.items():
        nll = bits / count
        lines.append(f"| {name} | {nll:.3f} | {nll - own:+.3f} |")
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if a.markdown:
        tmp = a.markdown + ".tmp"
        with open(tmp, "w") as f:
            f.write(table)
        os.replace(tmp, a.markdown)


if __name__ == "__main__":
    main()
