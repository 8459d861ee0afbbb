#!/usr/bin/python3
"""Log spectrograms of WAV files side by side, one panel each, into a PNG.

    /usr/bin/python3 tools/spectrograms.py -o out.png --seconds 6 "real violin=a.wav" "generated=b.wav" ...
"""
import argparse
import sys
import wave

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_wav(path, seconds):
    try:
        with wave.open(path) as w:
            if w.getsampwidth() != 2:
                sys.exit(f"spectrograms: {path}: only 16-bit PCM is supported")
            rate, channels = w.getframerate(), w.getnchannels()
            frames = w.readframes(min(w.getnframes(), int(seconds * rate)) if seconds else w.getnframes())
    except (OSError, wave.Error) as e:
        sys.exit(f"spectrograms: {path}: {e}")
    x = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768
    return x.reshape(-1, channels).mean(axis=1), rate


def log_spectrogram(x, rate, fft=512, hop=128):
    if len(x) < fft:
        x = np.pad(x, (0, fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, fft)[::hop] * np.hanning(fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(power.T + 1e-10), len(x) / rate


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("panels", nargs="+", help="TITLE=FILE.wav")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--seconds", type=float, default=0, help="first seconds of each file (0 = all)")
    p.add_argument("--columns", type=int, default=2)
    a = p.parse_args()
    panels = []
    for spec in a.panels:
        title, sep, path = spec.partition("=")
        if not sep:
            sys.exit(f"spectrograms: '{spec}' is not TITLE=FILE.wav")
        panels.append((title, *read_wav(path, a.seconds)))
    rows = (len(panels) + a.columns - 1) // a.columns
    fig, axes = plt.subplots(rows, a.columns, figsize=(5 * a.columns, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, x, rate) in zip(axes.flat, panels):
        spec, duration = log_spectrogram(x, rate)
        ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=-90, vmax=spec.max(),
                  extent=[0, duration, 0, rate / 2000])
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("kHz")
    for ax in axes[-1]:
        ax.set_xlabel("s")
    fig.tight_layout()
    fig.savefig(a.output, dpi=90)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
