#!/usr/bin/python3
"""`fastwave mel` with r9y9/wavenet_vocoder's front end against a numpy transcription of it.

r9y9's audio.py `logmelspectrogram` is librosa: `librosa.stft` (centred frames, reflect
padding, periodic Hann window of n_fft), the magnitude, `librosa.filters.mel` (Slaney's
mel scale, each triangle scaled by 2 / its width in Hz), then log10(max(S, 1e-10));
preprocess_normalize.py then standardises each band with a StandardScaler. librosa is not
installed here, so this file transcribes those definitions in float64 numpy (our own
code, from librosa's documented algorithm) and compares `fastwave mel -m MODEL` on a
vocoder whose local_mel records that front end (docs/model-format.md).

    test_librosa_mel.py --fastwave build/fastwave [--workdir DIR]

Exit code 0 when every check passes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy.io import wavfile

TOLERANCE = 1e-3  # absolute, in log10 units (and in standardised units)


# --- the transcription ----------------------------------------------------------------

def slaney_mel(hz):
    """Slaney's Auditory Toolbox scale: 3 mels per 200 Hz below 1 kHz, then logarithmic
    with 27 mels per factor 6.4."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-300) / 1000.0) / (np.log(6.4) / 27)
    return np.where(hz >= 1000.0, log_part, linear)


def slaney_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


def mel_filters(rate, n_fft, bands, fmin, fmax):
    """[bands, n_fft // 2 + 1]: triangles between Slaney-spaced edges, area-normalised."""
    if fmax is None or fmax == 0:
        fmax = rate / 2.0
    bin_hz = np.linspace(0.0, rate / 2.0, n_fft // 2 + 1)
    edges = slaney_hz(np.linspace(slaney_mel(fmin), slaney_mel(fmax), bands + 2))
    weights = np.zeros((bands, len(bin_hz)))
    for m in range(bands):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (bin_hz - left) / (centre - left)
        falling = (right - bin_hz) / (right - centre)
        weights[m] = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (right - left))
    return weights


def stft_magnitude(y, n_fft, hop):
    """[frames, n_fft // 2 + 1], frame f centred on sample f * hop, reflect-padded."""
    padded = np.pad(np.asarray(y, dtype=np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = 1 + (len(padded) - n_fft) // hop
    out = np.empty((frames, n_fft // 2 + 1))
    for f in range(frames):
        out[f] = np.abs(np.fft.rfft(padded[f * hop:f * hop + n_fft] * window))
    return out


def log_mel(y, rate, n_fft, hop, bands, fmin, fmax, mean=None, std=None):
    """[frames, bands]: r9y9's features, standardised when mean/std are given."""
    s = stft_magnitude(y, n_fft, hop) @ mel_filters(rate, n_fft, bands, fmin, fmax).T
    features = np.log10(np.maximum(s, 1e-10))
    if mean is not None:
        features = (features - mean) / std
    return features


# --- the test ---------------------------------------------------------------------------

def test_signal(rate, seconds=1.3):
    """A 60 Hz -> 9 kHz exponential chirp plus white noise, after 1000 samples of silence
    (so the first frames are all zero: the 1e-10 floor)."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0, f1 = 60.0, min(9000.0, 0.45 * rate)
    k = np.log(f1 / f0) / seconds
    x = 0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    x += 0.01 * np.random.default_rng(1234).standard_normal(n)
    x[:1000] = 0
    return x.astype(np.float32)


CASES = [
    # name, rate, fft, upsample scales (hop = product), bands, fmin, fmax, standardised
    ("r9y9 defaults (22050 Hz, 1024/256, 80 bands, 125..7600 Hz)", 22050, 1024, [4, 4, 4, 4], 80, 125.0, 7600.0, False),
    ("16 kHz, hop 200, 40 bands to Nyquist, mean/std", 16000, 1024, [10, 20], 40, 0.0, 0.0, True),
    ("fft 256, hop 64, 80 bands from 0 Hz (empty low bands), mean/std", 22050, 256, [8, 8], 80, 0.0, 11025.0, True),
]

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}: {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)
    return ok


def run_case(engine, workdir, index, case):
    name, rate, fft, scales, bands, fmin, fmax, standardised = case
    hop = int(np.prod(scales))
    rng = np.random.default_rng(index)
    mean = rng.uniform(-4, 1, bands) if standardised else None
    std = rng.uniform(0.5, 2, bands) if standardised else None
    mel = {"fft_size": fft, "window": "hann", "min_hz": fmin, "max_hz": fmax,
           "spectrum": "magnitude", "mel_scale": "slaney", "filter_norm": "slaney",
           "pad": "reflect", "framing": "librosa", "log": "log10"}
    if standardised:
        mel["mean"], mel["std"] = mean.tolist(), std.tolist()
    config = {"blocks": 1, "layers_per_block": 2, "residual_channels": 4, "dilation_channels": 4,
              "skip_channels": 4, "end_channels": 4, "classes": 256, "kernel_size": 2,
              "sample_rate": rate, "local_channels": bands, "local_hop": hop,
              "upsample_scales": scales, "local_mel": mel}
    config_path = os.path.join(workdir, f"case{index}.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    model = os.path.join(workdir, f"case{index}.fwm")
    r = subprocess.run([engine, "init", "--config", config_path, "-o", model],
                       capture_output=True, text=True)
    if not check(f"{name}: fastwave init", r.returncode == 0, r.stderr.strip()):
        return
    x = test_signal(rate)
    wav = os.path.join(workdir, f"case{index}.wav")
    wavfile.write(wav, rate, x)  # float32 WAV: read back exactly
    out = os.path.join(workdir, f"case{index}.npy")
    r = subprocess.run([engine, "mel", wav, "-m", model, "-o", out, "-q"], capture_output=True, text=True)
    if not check(f"{name}: fastwave mel", r.returncode == 0, r.stderr.strip()):
        return
    got = np.load(out)
    want = log_mel(x, rate, fft, hop, bands, fmin, fmax, mean, std)
    if not check(f"{name}: {len(want)} frames of {bands} bands (1 + samples // hop)",
                 got.shape == want.shape == (1 + len(x) // hop, bands), f"{got.shape} vs {want.shape}"):
        return
    err = np.abs(got.astype(np.float64) - want)
    worst = np.unravel_index(np.argmax(err), err.shape)
    check(f"{name}: max |fastwave - numpy| = {err.max():.2e} (frame {worst[0]}, band {worst[1]}), "
          f"tolerance {TOLERANCE:g}", err.max() <= TOLERANCE)
    if not standardised:
        floor = want[0] == -10
        check(f"{name}: the silent first frame sits on the 1e-10 floor in both",
              np.all(floor) and np.all(got[0] == -10))
    else:
        empty = ~np.any(mel_filters(rate, fft, bands, fmin, fmax) > 0, axis=1)
        if np.any(empty):
            floor = (-10 - mean[empty]) / std[empty]
            check(f"{name}: the {int(empty.sum())} empty bands stay empty (floor everywhere)",
                  np.allclose(got[:, empty], floor, atol=1e-5))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastwave", required=True, help="path of the fastwave binary")
    parser.add_argument("--workdir", help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="fastwave_librosa_mel_")
    os.makedirs(workdir, exist_ok=True)
    engine = os.path.abspath(args.fastwave)
    for index, case in enumerate(CASES):
        run_case(engine, workdir, index, case)
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
