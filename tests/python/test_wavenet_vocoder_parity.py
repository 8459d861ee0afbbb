#!/usr/bin/python3
"""Parity of fastwave with r9y9/wavenet_vocoder, end to end:

  reference model (tools/wavenet_vocoder_reference.py, random weights)
  -> torch.save({"state_dict": ...}) + hparams JSON
  -> tools/convert_wavenet_vocoder.py -> .fwm
  -> `fastwave eval --wav/--ids ... --local-features feats.npy --logits-out out.npy`
  -> compared with the reference's outputs at every position.

Both of upstream's layouts: the current one and the 2018 one (v0.1.x: the published
LJSpeech and CMU ARCTIC checkpoints' shapes included).

Also: the folded file checked against docs/model-format.md's formulas in float64 numpy
(no engine needed), the converter's errors, and for mixture outputs a sampling replay:
`fastwave vocode --seed S` output re-sampled in Python from the reference's outputs with
the same uniforms must give the same 16-bit codes (one code off only within 1e-2 of a
rounding boundary of x * 32768).

    test_wavenet_vocoder_parity.py --fastwave BUILD/fastwave --workdir DIR
    test_wavenet_vocoder_parity.py --skip-engine [--workdir DIR]
"""
import argparse
import collections
import contextlib
import copy
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import wave

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import fastwave_format as fwf  # noqa: E402
import wavenet_vocoder_reference as ref  # noqa: E402
from model_format_numpy import doc_logits  # noqa: E402  (next to this script)

PYTHON = "/usr/bin/python3"
CONVERTER = os.path.join(TOOLS, "convert_wavenet_vocoder.py")

SMALL = dict(layers=6, stacks=2, residual_channels=16, gate_channels=24, skip_out_channels=20,
             kernel_size=3, cin_channels=5, gin_channels=-1, sample_rate=16000,
             upsample_conditional_features=True)
# The model keys of the published 2018 LJSpeech checkpoint's hparams
# (20180510_mixture_lj_checkpoint_step000320000_ema.json = presets/ljspeech_mixture.json at
# upstream's 2092a64): no `legacy` key yet, so the legacy skip scaling by default.
LJSPEECH_2018 = dict(
    name="wavenet_vocoder", builder="wavenet", input_type="raw", quantize_channels=65536,
    sample_rate=22050, num_mels=80, fft_size=1024, hop_size=256, log_scale_min=-32.23619130191664,
    out_channels=30, layers=24, stacks=4, residual_channels=512, gate_channels=512,
    skip_out_channels=256, dropout=0.050000000000000044, kernel_size=3, weight_normalization=True,
    cin_channels=80, upsample_conditional_features=True, upsample_scales=[4, 4, 4, 4],
    freq_axis_kernel_size=3, gin_channels=-1, n_speakers=7)
SMALL_2018 = dict(SMALL, builder="wavenet", upsample_scales=[2, 3], freq_axis_kernel_size=3,
                  hop_size=6, legacy=True, weight_normalization=True)
# how: how the checkpoint is stored; tol: atol = rtol; layout: upstream's (LAYOUTS).
Case = collections.namedtuple("Case", "hp speaker frames tol how layout",
                              defaults=("current",))
CONFIGS = {
    "mulaw_convin_global": Case(dict(
        SMALL, input_type="mulaw-quantize", quantize_channels=256, out_channels=256,
        gin_channels=4, n_speakers=3, upsample_net="ConvInUpsampleNetwork",
        upsample_params={"upsample_scales": [2, 3], "freq_axis_kernel_size": 3}, cin_pad=1,
        hop_size=6), 2, 40, 1e-4, "wrapped"),
    "mulaw_upsample_k2": Case(dict(
        SMALL, input_type="mulaw-quantize", quantize_channels=256, out_channels=256,
        kernel_size=2, upsample_net="UpsampleNetwork",
        upsample_params={"upsample_scales": [3, 2]}, cin_pad=0), None, 40, 1e-4, "module"),
    "raw_logistic10": Case(dict(
        SMALL, input_type="raw", quantize_channels=65536, out_channels=30,
        output_distribution="Logistic", log_scale_min=-4.0,  # floors some
        upsample_net="ConvInUpsampleNetwork", upsample_params={"upsample_scales": [2, 3]},
        cin_pad=2), None, 40, 1e-4, "wrapped"),
    "raw_gaussian1": Case(dict(
        SMALL, input_type="raw", quantize_channels=65536, out_channels=2,
        output_distribution="Normal", log_scale_min=-4.16, upsample_net="ConvInUpsampleNetwork",
        upsample_params={"upsample_scales": [2, 3]}, cin_pad=2), None, 40, 1e-4, "folded"),
    "published": Case(dict(
        input_type="raw", quantize_channels=65536, sample_rate=22050, hop_size=256,
        output_distribution="Logistic", log_scale_min=-16.0, out_channels=30, layers=24,
        stacks=4, residual_channels=128, gate_channels=256, skip_out_channels=128,
        kernel_size=3, cin_channels=80, cin_pad=2, upsample_conditional_features=True,
        upsample_net="ConvInUpsampleNetwork", upsample_params={"upsample_scales": [4, 4, 4, 4]},
        gin_channels=-1, n_speakers=7), None, 2, 3e-4, "wrapped"),
    "2018_raw_logistic10": Case(dict(
        SMALL_2018, input_type="raw", quantize_channels=65536, out_channels=30,
        log_scale_min=-4.0), None, 40, 1e-4, "wrapped", "2018"),
    "2018_mulaw_global_plain": Case(dict(
        SMALL_2018, input_type="mulaw-quantize", quantize_channels=256, out_channels=256,
        kernel_size=2, gin_channels=4, n_speakers=3, upsample_scales=[3, 2],
        freq_axis_kernel_size=1, legacy=False, weight_normalization=False), 1, 40, 1e-4,
        "module", "2018"),
    "2018_published_ljspeech": Case(LJSPEECH_2018, None, 2, 3e-4, "wrapped", "2018"),
    # 20180212_multispeaker_cmu_arctic_mixture.json: the same with 16 kHz and 16-wide speakers.
    "2018_published_cmu_arctic": Case(dict(LJSPEECH_2018, sample_rate=16000, gin_channels=16),
                                      5, 2, 3e-4, "wrapped", "2018"),
}

results = {"passed": 0, "failed": 0, "skipped": 0}
measured = {}  # name -> max abs error, engine vs reference


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
    return ok


def skip(name, why):
    results["skipped"] += 1
    print(f"SKIP {name}: {why}")


def run(cmd, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def output_kind(hp):
    if hp["input_type"] == "mulaw-quantize":
        return "softmax", 0
    if hp.get("output_distribution", "Logistic") == "Normal":  # 2018: no such hparam
        return "gaussian_mixture", max(1, hp["out_channels"] // 3)
    return "logistic_mixture", hp["out_channels"] // 3


# -- random models ------------------------------------------------------------------------

def make_model(hp, seed, layout="current"):
    """A reference model whose weights make every term visibly move the outputs. Each
    weight-normed conv gets a random effective weight w, stored as weight_v = w times a
    random positive factor per row and weight_g = |w row|, so folding is really tested."""
    model = ref.WaveNetVocoder(hp, layout).double().eval()
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, module in modules.items():
            if not isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose2d)) \
                    or name == "upsample_net.conv_in":  # plain in upstream too: set below
                continue
            v = module.weight_v if hasattr(module, "weight_v") else module.weight
            fan_in = v[0].numel()
            if name.startswith("upsample_net"):  # smoothing-like taps summing to ~1
                w = (1 + 0.5 * randn(*v.shape)) / fan_in
            elif name.startswith("upsample_conv"):  # an output sees one tap per channel row
                w = (1 + 0.5 * randn(*v.shape)) / v.shape[2]
            elif name == "first_conv" and not model.scalar_input:
                w = randn(*v.shape)  # one-hot input: one column per class
            elif name == "first_conv":
                w = 1.5 * randn(*v.shape)
            else:
                w = randn(*v.shape) / math.sqrt(fan_in)
            if hasattr(module, "weight_v"):
                norm = w.reshape(len(w), -1).norm(dim=1)
                v.copy_(w * (0.5 + 1.5 * torch.rand(len(w), generator=gen, dtype=torch.float64))
                        .view((-1,) + (1,) * (w.dim() - 1)))
                module.weight_g.copy_(norm.view(module.weight_g.shape))
            else:  # the 2018 layout with weight_normalization=False
                v.copy_(w)
            if module.bias is not None:  # small on upsampling stages, whose ReLU follows
                scale = 0.1 if name.startswith("upsample_conv") else 0.5
                module.bias.copy_(scale * randn(*module.bias.shape))
        if model.embed_speakers is not None:
            model.embed_speakers.weight.copy_(randn(*model.embed_speakers.weight.shape))
        if model.upsample_net is not None and hasattr(model.upsample_net, "conv_in"):
            w = model.upsample_net.conv_in.weight
            w.copy_(0.3 * randn(*w.shape) / math.sqrt(w[0].numel()))
            w[:, :, w.shape[2] // 2] += torch.eye(w.shape[0], dtype=torch.float64)
        kind, k = output_kind(hp)
        if kind != "softmax":  # means well inside [-1, 1], small scales, as trained models
            last = modules["last_conv_layers.3"]
            rows = (slice(0, 1), slice(1, 2)) if hp["out_channels"] == 2 else \
                (slice(k, 2 * k), slice(2 * k, 3 * k))
            last.weight_g[rows[0]] *= 0.2
            last.bias[rows[0]] *= 0.2
            last.weight_g[rows[1]] *= 0.3
            last.bias[rows[1]] -= 4.0
    return model


def folded_state_dict(model):
    """The same model with weight normalisation removed: plain `weight` tensors."""
    plain = copy.deepcopy(model)
    for module in plain.modules():
        if hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)
    return plain.state_dict()


def save_checkpoint(model, how, path):
    state = model.state_dict()
    if how == "module":
        obj = {"module." + k: v for k, v in state.items()}
    elif how == "folded":
        obj = folded_state_dict(model)
    else:  # as upstream's train.py saves it
        obj = {"state_dict": state, "optimizer": None, "global_step": 1000, "global_epoch": 3}
    torch.save(obj, path)


# -- docs/model-format.md's formulas, in float64 numpy -------------------------------------

def doc_upsample(config, t, features):
    m = np.asarray(features, np.float64).T  # [channels, frames]
    channels, frames = m.shape
    if config.get("upsample_transposed"):
        return doc_transposed_upsample(config, t, m).T
    if config["upsample_conv_in"]:
        p, w = config["cin_pad"], t["upsample.conv_in.weight"].astype(np.float64)
        idx = np.clip(np.arange(frames)[:, None] + np.arange(2 * p + 1)[None, :] - p, 0, frames - 1)
        m = np.einsum("oij,ifj->of", w, m[:, idx])
    for i, s in enumerate(config["upsample_scales"]):
        W = t[f"upsample.convs.{i}.weight"][0, 0].astype(np.float64)
        K = W.shape[0]
        st = np.repeat(m, s, axis=1)
        padded = np.zeros((channels + K - 1, st.shape[1] + 2 * s))
        padded[K // 2:K // 2 + channels, s:s + st.shape[1]] = st
        y = np.zeros_like(st)
        for a in range(K):
            for b in range(2 * s + 1):
                y += W[a, b] * padded[a:a + channels, b:b + st.shape[1]]
        m = y
    return m.T  # [samples, channels]


def doc_transposed_upsample(config, t, m):
    """upsample_transposed stages: y'[c][f*s + r] = relu(bias + sum_a W[a][r] y[c + K/2 - a][f])."""
    channels = m.shape[0]
    for i, s in enumerate(config["upsample_scales"]):
        W = t[f"upsample.convs.{i}.weight"][0, 0].astype(np.float64)  # [K, s]
        K = W.shape[0]
        y = np.full((channels, m.shape[1] * s), float(t[f"upsample.convs.{i}.bias"][0]))
        for a in range(K):
            source = np.zeros_like(m)  # row c holds input row c + K/2 - a, zero outside
            lo, hi = max(0, a - K // 2), min(channels, channels + a - K // 2)
            source[lo:hi] = m[lo + K // 2 - a:hi + K // 2 - a]
            y += (source[:, :, None] * W[a][None, None, :]).reshape(channels, -1)
        m = np.maximum(y, 0.0)
    return m


# -- files --------------------------------------------------------------------------------

def write_wav(path, samples, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int64)


def convert(checkpoint, hparams, out):
    return run([PYTHON, CONVERTER, checkpoint, hparams, out])


def engine_rejects_mixtures(stderr):
    """An engine from before mixture outputs refuses their config keys."""
    return any(f"unknown key '{key}'" in stderr for key in ("output", "mixtures", "log_scale_min"))


# -- one config, end to end ----------------------------------------------------------------

def test_config(name, hp, speaker, frames, tol, how, layout, workdir, engine):
    seed = sum(map(ord, name))
    model = make_model(hp, seed, layout)
    checkpoint = os.path.join(workdir, f"{name}.pt")
    hparams = os.path.join(workdir, f"{name}.json")
    out = os.path.join(workdir, f"{name}.fwm")
    save_checkpoint(model, how, checkpoint)
    with open(hparams, "w") as f:
        json.dump(hp, f)
    r = convert(checkpoint, hparams, out)
    if not check(f"{name}: converter succeeds", r.returncode == 0, r.stderr.strip()):
        return
    check(f"{name}: converter notes the feature front end", "preprocessing" in r.stdout, r.stdout)
    config, tensors = fwf.read_model(out)
    kind, mixtures = output_kind(hp)
    if layout == "2018":  # transposed stages, no conv_in, no recorded front end
        upsampling = (config["upsample_scales"] == hp["upsample_scales"]
                      and config["upsample_transposed"] and config["cin_pad"] == 0
                      and config["upsample_freq_kernel"] == hp["freq_axis_kernel_size"]
                      and config["local_mel"] is None)
    else:
        upsampling = (config["upsample_scales"] == hp["upsample_params"]["upsample_scales"]
                      and not config["upsample_transposed"] and config["cin_pad"] == hp["cin_pad"])
    check(f"{name}: config", config["output"] == kind and config["mixtures"] == mixtures
          and config["blocks"] == hp["stacks"] and config["local_hop"] == model.hop() and upsampling
          and config["log_scale_min"] == (hp.get("log_scale_min", -16.0) if mixtures else -16.0),
          str(config))

    rng = np.random.default_rng(seed)
    if layout == "2018":  # upstream's 2018 features are scaled to [0, 1]
        features = rng.uniform(0, 1, (frames, hp["cin_channels"])).astype(np.float32)
    else:
        features = rng.standard_normal((frames, hp["cin_channels"])).astype(np.float32)
    T = frames * model.hop()
    if kind == "softmax":
        inputs = rng.integers(0, hp["out_channels"], T)
        ref_inputs = inputs
    else:  # a wandering 16-bit signal that visits the extremes too
        pcm = np.clip(np.cumsum(rng.integers(-3000, 3001, T)), -32768, 32767)
        pcm[T // 3] = -32768
        pcm[T // 2] = 32767
        inputs = pcm + 32768
        ref_inputs = ref.code_to_value(inputs)
    with torch.no_grad():
        full = model(ref_inputs, features, speaker).numpy()[:-1]  # the last row predicts nothing
    local = doc_upsample(config, tensors, features)[:T] if config["local_channels"] else None
    doc = doc_logits(config, tensors, inputs, speaker, local)[:-1]
    err = max_err(doc, full)
    check(f"{name}: docs formulas on the folded file == reference (float64)",
          err < 1e-6 * max(1.0, float(np.max(np.abs(full)))), f"max error {err}")
    if engine is None:
        if kind != "softmax" and config["blocks"] * config["layers_per_block"] <= 8:
            seed, temperature, _ = SAMPLING_RUNS[1]
            codes = python_generation(model, config, features, min(T, 120), seed, temperature,
                                      speaker)
            replay(f"{name}: python", model, config, features, codes, seed, temperature,
                   speaker=speaker)
        return

    feats_path = os.path.join(workdir, f"{name}.feats.npy")
    np.save(feats_path, features)
    out_path = os.path.join(workdir, f"{name}.out.npy")
    json_path = os.path.join(workdir, f"{name}.eval.json")
    cmd = [engine, "eval", "-m", out, "--local-features", feats_path, "--logits-out", out_path,
           "--threads", "1", "--json", json_path]
    if kind == "softmax":
        ids_path = os.path.join(workdir, f"{name}.ids")
        with open(ids_path, "w") as f:
            f.write(" ".join(map(str, inputs)) + "\n")
        cmd += ["--ids", ids_path]
    else:
        wav_path = os.path.join(workdir, f"{name}.wav")
        write_wav(wav_path, inputs - 32768, hp["sample_rate"])
        cmd += ["--wav", wav_path]
    if speaker is not None:
        cmd += ["--speaker", str(speaker)]
    r = run(cmd)
    if r.returncode != 0 and kind != "softmax" and engine_rejects_mixtures(r.stderr):
        skip(f"{name}: engine parity", "this fastwave has no mixture outputs yet "
             f"({r.stderr.strip().splitlines()[-1]})")
        return
    if not check(f"{name}: fastwave eval succeeds", r.returncode == 0,
                 (r.stderr or r.stdout).strip()[-500:]):
        return
    got = np.load(out_path)
    if not check(f"{name}: engine outputs are float32 {list(full.shape)}",
                 got.dtype == np.float32 and got.shape == full.shape, f"{got.dtype} {got.shape}"):
        return
    err = max_err(got, full)
    measured[name] = (err, float(np.max(np.abs(full))))
    check(f"{name}: engine == reference at all {len(full)} positions (atol=rtol={tol:g})",
          np.allclose(got, full, atol=tol, rtol=tol), f"max error {err}")
    if kind != "softmax":
        test_nll(name, hp, config, full, inputs, json_path)
        test_sampling(name, model, config, out, features, speaker, workdir, engine)


def test_nll(name, hp, config, rows, codes, json_path):
    """fastwave eval's NLL against upstream's training likelihood (the reference's port).
    Logistics: the same discretized likelihood with 65536 bins. Gaussians: upstream uses
    the density, fastwave the density times the bin width 2/65535."""
    with open(json_path) as f:
        got = json.load(f)["total"]["nll_bits"]
    rows = torch.as_tensor(rows)
    targets = torch.as_tensor(ref.code_to_value(codes[1:]))
    lsm = config["log_scale_min"]
    if config["output"] == "logistic_mixture":
        nats = ref.logistic_mixture_nll(rows, targets, lsm).mean().item()
    else:
        nats = ref.gaussian_mixture_nll(rows, targets, lsm).mean().item() - math.log(2 / 65535)
    want = nats / math.log(2)
    check(f"{name}: eval NLL {got:.6f} bits == upstream likelihood {want:.6f}",
          abs(got - want) < 1e-4 * max(1.0, abs(want)), f"difference {got - want:.3g}")


SAMPLING_RUNS = ((7, 1.0, 1), (123456789, 0.7, 2))  # (seed, temperature, streams)
# A replayed code may differ from the engine's by one where x * 32768 is this close to a
# rounding boundary. A float32 mean near 0.5 has an ulp of 6e-8, 0.002 in code units, and
# the engine's own generate and eval paths differ by a few ulps (measured: one code at
# 1.7e-3 from the boundary in 511 samples of the published shape), so the window is 1e-2.
BOUNDARY = 1e-2


def read_ids(path):
    with open(path) as f:
        return np.array([int(w) for w in f.read().split()], np.int64)


def test_sampling(name, model, config, path, features, speaker, workdir, engine):
    """The engine's generated codes, replayed: the reference teacher-forced on them, each
    row sampled with fastwave's uniforms, must give the next code. `generate --ids-out`
    gives the exact codes (a WAV file goes through libsndfile's float -> 16-bit scaling);
    two streams run the lanes engine, stream b seeded with seed + b."""
    feats = os.path.join(workdir, f"{name}.feats.npy")
    samples = len(features) * config["local_hop"]
    speaker_args = [] if speaker is None else ["--speaker", str(speaker)]
    for seed, temperature, streams in SAMPLING_RUNS:
        out = os.path.join(workdir, f"{name}.gen{seed}.wav")
        ids = os.path.join(workdir, f"{name}.gen{seed}.ids")
        r = run([engine, "generate", "-m", path, "--local-features", feats, "-n", str(samples - 1),
                 "-o", out, "--ids-out", ids, "--seed", str(seed), "--temperature", str(temperature),
                 "--streams", str(streams), "-q", *speaker_args])
        if not check(f"{name}: generate seed {seed}, {streams} stream(s) succeeds", r.returncode == 0,
                     (r.stderr or r.stdout).strip()[-500:]):
            return
        for b in range(streams):
            path_b = ids if streams == 1 else ids.replace(".ids", f"_{b}.ids")
            codes = np.concatenate([[32768], read_ids(path_b)])
            replay(f"{name}: engine{f' stream {b}' if streams > 1 else ''}", model, config,
                   features, codes, seed + b, temperature, speaker=speaker)
        if streams == 1:
            # The engine's own teacher-forced outputs on its codes, sampled in Python: this
            # isolates the sampler port from the float32 / float64 difference.
            wav = os.path.join(workdir, f"{name}.gen{seed}.codes.wav")
            write_wav(wav, codes - 32768, config["sample_rate"])
            rows_path = os.path.join(workdir, f"{name}.gen{seed}.rows.npy")
            r = run([engine, "eval", "-m", path, "--wav", wav, "--local-features", feats,
                     "--logits-out", rows_path, "--threads", "1", *speaker_args])
            if check(f"{name}: eval of the generated codes succeeds", r.returncode == 0,
                     (r.stderr or r.stdout).strip()[-500:]):
                replay(f"{name}: engine outputs,", model, config, features, codes, seed,
                       temperature, rows=np.load(rows_path), speaker=speaker)
        if streams == 1:  # vocode is generate from the silence code, writing it too
            voc = os.path.join(workdir, f"{name}.vocode{seed}.wav")
            r = run([engine, "vocode", "-m", path, "--mel", feats, "-o", voc, "--seed", str(seed),
                     "--temperature", str(temperature), "-q", *speaker_args])
            if check(f"{name}: vocode seed {seed} succeeds", r.returncode == 0,
                     (r.stderr or r.stdout).strip()[-500:]):
                got, want = read_wav(voc), read_wav(out)
                check(f"{name}: vocode writes the silence code, then generate's samples",
                      len(got) == samples and got[0] == 0 and np.array_equal(got[1:], want),
                      f"{len(got)} samples, first {got[:3]}")


def python_generation(model, config, features, samples, seed, temperature, speaker=None):
    """Codes generated one at a time by the reference itself (each step recomputes the
    whole prefix): what the replay must reproduce, without an engine."""
    uniforms = ref.UniformSource(seed)
    codes = [32768]
    for _ in range(samples - 1):
        row = model(ref.code_to_value(codes), features, speaker).numpy()[-1]
        codes.append(ref.sample_code(row, config["output"], config["mixtures"], temperature,
                                     uniforms)[0])
    return np.array(codes)


def replay(label, model, config, features, codes, seed, temperature, rows=None, speaker=None):
    """`rows`: outputs to sample from (default: the reference's, teacher-forced)."""
    if rows is None:
        with torch.no_grad():
            rows = model(ref.code_to_value(codes), features, speaker).numpy()
    uniforms = ref.UniformSource(seed)
    mismatches, boundary = [], 0
    for t in range(len(codes) - 1):
        code, x = ref.sample_code(rows[t], config["output"], config["mixtures"], temperature,
                                  uniforms)
        if code != codes[t + 1]:
            near = abs(x * 32768 - math.floor(x * 32768) - 0.5) < BOUNDARY \
                and abs(code - codes[t + 1]) == 1
            boundary += near
            if not near:
                mismatches.append((t + 1, int(codes[t + 1]), code))
    spread = int(np.ptp(codes))
    return check(f"{label} replay of {len(codes) - 1} sampled codes (seed {seed}, "
                 f"T={temperature}) identical"
                 f"{f' but {boundary} at a rounding boundary' if boundary else ''}",
                 codes[0] == 32768 and not mismatches and spread > 100,
                 f"first code {codes[0]}, spread {spread}, mismatches (t, engine, reference): "
                 f"{mismatches[:5]} ({len(mismatches)} in all)")


# -- converter errors ---------------------------------------------------------------------

def expect_error(name, checkpoint, hparams, out, expect, process=False, args=()):
    """The converter fails with one line naming the problem and writes nothing. Most
    cases call its main() in this process (an interpreter start with PyTorch costs
    seconds); `process` runs the real command line."""
    if process:
        r = run([PYTHON, CONVERTER, checkpoint, hparams, out, *args])
        rc, stderr = r.returncode, r.stderr
    else:
        import convert_wavenet_vocoder as converter
        try:
            converter.main([checkpoint, hparams, out, *args])
            rc, stderr = 0, ""
        except SystemExit as e:  # sys.exit(message): exit code 1, the message on stderr
            rc, stderr = (1, str(e.code) + "\n") if isinstance(e.code, str) else (e.code, "")
    lines = stderr.strip().splitlines()
    check(f"converter error: {name}",
          rc == 1 and len(lines) == 1 and expect in lines[0]
          and "Traceback" not in stderr and not os.path.exists(out),
          f"rc={rc} stderr={stderr.strip()!r}")


def test_converter_errors(workdir):
    hp = CONFIGS["mulaw_convin_global"][0]
    model = make_model(hp, 11)
    good = os.path.join(workdir, "err_good.pt")
    save_checkpoint(model, "wrapped", good)
    out = os.path.join(workdir, "err_out.fwm")
    state = model.state_dict()

    def hparams(name, **changes):
        path = os.path.join(workdir, f"err_{name}.json")
        with open(path, "w") as f:
            json.dump({k: v for k, v in dict(hp, **changes).items() if v is not Ellipsis}, f)
        return path

    def ckpt(name, state_dict=None, data=None):
        path = os.path.join(workdir, f"err_{name}.pt")
        if data is not None:
            open(path, "wb").write(data)
        else:
            torch.save({"state_dict": state_dict}, path)
        return path
    good_hp = hparams("good")
    expect_error("no such checkpoint", os.path.join(workdir, "nope.pt"), good_hp, out, "nope.pt",
                 process=True)
    expect_error("no such hparams", good, os.path.join(workdir, "nope.json"), out, "nope.json")
    blob = open(good, "rb").read()
    expect_error("truncated checkpoint", ckpt("trunc", data=blob[:len(blob) // 2]), good_hp, out,
                 "cannot read checkpoint")
    bad_json = os.path.join(workdir, "err_bad.json")
    open(bad_json, "w").write("{\"layers\": 6,")
    expect_error("malformed hparams", good, bad_json, out, "cannot read hparams")
    expect_error("input_type mulaw", good, hparams("mulaw", input_type="mulaw"), out,
                 "'mulaw'", process=True)
    expect_error("layers disagree", good, hparams("layers", layers=8), out, "layers=8")
    expect_error("stacks do not divide", good, hparams("stacks", stacks=4), out, "not divisible")
    expect_error("gate_channels disagree", good, hparams("gate", gate_channels=32), out,
                 "gate_channels=32")
    expect_error("upsample activation", good, hparams("act", upsample_params={
        "upsample_scales": [2, 3], "freq_axis_kernel_size": 3,
        "upsample_activation": "LeakyReLU"}), out, "upsample_activation")
    expect_error("unknown upsample net", good, hparams("net", upsample_net="Foo"), out,
                 "upsample_net 'Foo'")
    expect_error("no upsampling", good, hparams("noup", upsample_conditional_features=False), out,
                 "upsample_conditional_features=False")
    expect_error("scales disagree", good, hparams("scales", upsample_params={
        "upsample_scales": [3, 2], "freq_axis_kernel_size": 3}, hop_size=...), out,
        "upsample_net.upsample.up_layers.1")
    expect_error("hop_size disagrees", good, hparams("hop", hop_size=256), out, "hop_size=256")
    expect_error("cin_pad disagrees", good, hparams("cinpad", cin_pad=2), out,
                 "upsample_net.conv_in")
    shape = dict(state, **{"conv_layers.3.conv.weight_v": torch.ones(24, 16, 2)})
    expect_error("inconsistent shape", ckpt("shape", shape), good_hp, out,
                 "'conv_layers.3.conv' has shape")
    missing = {k: v for k, v in state.items() if not k.startswith("conv_layers.2.conv1x1_skip.")}
    expect_error("missing tensor", ckpt("missing", missing), good_hp, out,
                 "conv_layers.2.conv1x1_skip.weight")
    noemb = {k: v for k, v in state.items() if k != "embed_speakers.weight"}
    expect_error("global conditioning without embedding", ckpt("noemb", noemb), good_hp, out,
                 "speaker embedding")
    nan = {k: v.clone() for k, v in state.items()}
    nan["conv_layers.1.conv.bias"][0] = float("nan")
    expect_error("NaN value", ckpt("nan", nan), good_hp, out, "non-finite")
    extra = dict(state, **{"foo.weight": torch.zeros(3)})
    expect_error("foreign tensor", ckpt("extra", extra), good_hp, out, "unexpected tensor 'foo.weight'")
    raw = CONFIGS["raw_logistic10"][0]
    raw_model = make_model(raw, 12)
    raw_ckpt = os.path.join(workdir, "err_raw.pt")
    save_checkpoint(raw_model, "wrapped", raw_ckpt)
    expect_error("out_channels disagree",
                 raw_ckpt, hparams("dist", **dict(raw, out_channels=2)), out, "out_channels=2")
    expect_error("raw hparams on a mulaw-quantize checkpoint", good,
                 hparams("rawhp", input_type="raw", out_channels=256), out, "first_conv takes 256")
    expect_error("UpsampleNetwork with cin_pad", raw_ckpt, hparams(
        "upcinpad", **dict(raw, upsample_net="UpsampleNetwork")), out, "cin_pad=2")
    expect_error("log_scale_min not negative", raw_ckpt, hparams(
        "lsm", **dict(raw, log_scale_min=0.5)), out, "log_scale_min")
    expect_error("unknown output_distribution", raw_ckpt, hparams(
        "udist", **dict(raw, output_distribution="Laplace")), out, "Laplace")
    # The mel front end recorded from the hparams (local_mel), and --meanvar.
    expect_error("win_length differs from fft_size", good, hparams("win", win_length=512), out,
                 "win_length=512")
    expect_error("window not hann", good, hparams("window", window="hamming"), out, "'hamming'")
    expect_error("num_mels disagrees with the checkpoint", good, hparams("mels", num_mels=80), out,
                 "num_mels=80")
    expect_error("fmax above Nyquist", good, hparams("fmax", fmax=9000), out, "fmax=9000")
    stats = os.path.join(workdir, "err_stats4.npy")
    np.save(stats, np.ones((2, 4)))
    expect_error("--meanvar with the wrong band count", good, good_hp, out, "4 bands",
                 args=("--meanvar", stats))
    zero = os.path.join(workdir, "err_stats0.npy")
    np.save(zero, np.stack([np.zeros(5), np.array([1, 1, 0, 1, 1.0])]))
    expect_error("--meanvar with a zero scale", good, good_hp, out, "scales > 0",
                 args=("--meanvar", zero))
    expect_error("--meanvar not a .npy", good, good_hp, out, "--meanvar",
                 args=("--meanvar", good_hp))
    leftovers = [f for f in os.listdir(workdir) if f.startswith("err_out")]
    check("converter errors leave no temporary files", not leftovers, str(leftovers))


def test_2018_converter_errors(workdir):
    """The 2018 layout's own errors, and how the two layouts are told apart."""
    hp = CONFIGS["2018_raw_logistic10"].hp
    model = make_model(hp, 13, "2018")
    good = os.path.join(workdir, "err2018_good.pt")
    save_checkpoint(model, "wrapped", good)
    out = os.path.join(workdir, "err2018_out.fwm")
    state = model.state_dict()

    def hparams(name, base=hp, **changes):
        path = os.path.join(workdir, f"err2018_{name}.json")
        with open(path, "w") as f:
            json.dump({k: v for k, v in dict(base, **changes).items() if v is not Ellipsis}, f)
        return path

    def ckpt(name, state_dict):
        path = os.path.join(workdir, f"err2018_{name}.pt")
        torch.save({"state_dict": state_dict}, path)
        return path
    good_hp = hparams("good")
    expect_error("2018: checkpoint with the current layout's hparams", good,
                 hparams("current", base=CONFIGS["raw_logistic10"].hp), out, "same version",
                 process=True)
    expect_error("2018: --layout current contradicts the tensors", good, good_hp, out,
                 "--layout current, but tensor", args=("--layout", "current"))
    expect_error("2018: even freq_axis_kernel_size", good, hparams("fk", freq_axis_kernel_size=2),
                 out, "freq_axis_kernel_size=2 must be odd")
    expect_error("2018: a stage more in the hparams", good, hparams(
        "stages", upsample_scales=[2, 3, 1]), out, "upsample_conv.{0,2,4}")
    expect_error("2018: scales disagree", good, hparams("scales", upsample_scales=[3, 2]), out,
                 "'upsample_conv.0' has shape")
    expect_error("2018: hop_size disagrees", good, hparams("hop", hop_size=256), out,
                 "hop_size=256")
    expect_error("2018: no upsampling", good, hparams(
        "noup", upsample_conditional_features=False), out, "upsample_conditional_features=False")
    expect_error("2018: legacy not a boolean", good, hparams("legacy", legacy="yes"), out,
                 "'legacy' must be true or false")
    stats = os.path.join(workdir, "err2018_stats.npy")
    np.save(stats, np.ones((2, hp["cin_channels"])))
    expect_error("2018: --meanvar", good, good_hp, out, "[0, 1]", args=("--meanvar", stats))
    missing = {k: v for k, v in state.items() if k != "conv_layers.2.conv1x1c.bias"}
    expect_error("2018: a conditioning bias missing", ckpt("nobias", missing), good_hp, out,
                 "'conv_layers.2.conv1x1c.bias'")
    extra = dict(state, **{"upsample_conv.4.bias": torch.zeros(1)})
    expect_error("2018: a stage more in the checkpoint", ckpt("extra", extra), good_hp, out,
                 "upsample_conv.{0,2,4}")
    leftovers = [f for f in os.listdir(workdir) if f.startswith("err2018_out")]
    check("2018: converter errors leave no temporary files", not leftovers, str(leftovers))


def test_layout_flag(workdir):
    """An unconditional model with hparams that name no layout-only key: the converter
    asks for --layout, and each layout folds the skips its own way."""
    import convert_wavenet_vocoder as converter
    hp = dict(input_type="mulaw-quantize", quantize_channels=64, out_channels=64, layers=4,
              stacks=2, residual_channels=8, gate_channels=12, skip_out_channels=10,
              kernel_size=3, cin_channels=-1, gin_channels=-1,
              upsample_conditional_features=False)
    model = make_model(hp, 17, "2018")  # legacy skips: upstream's default then
    checkpoint = os.path.join(workdir, "layout.pt")
    hparams = os.path.join(workdir, "layout.json")
    save_checkpoint(model, "wrapped", checkpoint)
    with open(hparams, "w") as f:
        json.dump(hp, f)
    out = os.path.join(workdir, "layout.fwm")
    expect_error("layout: undecidable without --layout", checkpoint, hparams, out, "--layout 2018")
    ids = np.random.default_rng(17).integers(0, 64, 60)
    with torch.no_grad():
        want = model(ids).numpy()
    for layout, same in (("2018", True), ("current", False)):
        with contextlib.redirect_stdout(io.StringIO()):  # its "wrote ..." line
            converter.main([checkpoint, hparams, out, "--layout", layout])
        config, tensors = fwf.read_model(out)
        err = max_err(doc_logits(config, tensors, ids), want)
        check(f"layout: --layout {layout} {'gives' if same else 'differs from'} the "
              "reference (docs formulas, float64)",
              err < 1e-6 * max(1.0, float(np.max(np.abs(want)))) if same else err > 1e-2,
              f"max error {err}")


def test_format(workdir):
    """Optional keys round trip, and files without them keep their old bytes."""
    config = fwf.make_config(blocks=1, layers_per_block=2, residual_channels=3,
                             dilation_channels=2, skip_channels=4, end_channels=4,
                             classes=65536, bias=True, local_channels=3, local_hop=6,
                             upsample_scales=[2, 3], upsample_conv_in=True, cin_pad=1,
                             output="logistic_mixture", mixtures=2, log_scale_min=-7.0)
    rng = np.random.default_rng(0)
    tensors = {n: rng.standard_normal(s).astype(np.float32)
               for n, s in fwf.expected_tensors(config).items()}
    check("format: mixture start_conv is [residual, 1, 1], end_conv_2 has 3K rows",
          tensors["start_conv.weight"].shape == (3, 1, 1)
          and tensors["end_conv_2.weight"].shape == (6, 4, 1))
    path = os.path.join(workdir, "fmt.fwm")
    fwf.write_model(path, config, tensors)
    config2, tensors2 = fwf.read_model(path)
    check("format: optional keys round trip", config2 == config, f"{config2} != {config}")
    header = open(path, "rb").read(600)
    check("format: new keys written", b'output\\":\\"logistic_mixture' in header
          and b'log_scale_min\\":-7.0' in header and b'cin_pad\\":1' in header)
    for label, change, expect in (("mixtures need 65536 classes", dict(classes=256), "65536"),
                                  ("unknown output", dict(output="laplace"), "output"),
                                  ("scales must multiply to the hop", dict(local_hop=5),
                                   "multiply")):
        try:
            fwf.make_config(**dict({k: v for k, v in config.items()}, **change))
            check(f"format: {label}", False, "accepted")
        except fwf.FormatError as e:
            check(f"format: {label}", expect in str(e), str(e))
    for model in ("speech.fwm", "violin.fwm"):
        path = os.path.join(ROOT, "models", model)
        if os.path.exists(path):
            c, t = fwf.read_model(path)
            check(f"format: models/{model} re-encodes to the same bytes",
                  fwf.encode(c, t) == open(path, "rb").read())


def test_front_end(workdir, engine):
    """The converted file records upstream's mel front end: `fastwave mel -m` on it gives
    what upstream's preprocessing (audio.py's logmelspectrogram, then the StandardScaler of
    preprocess_normalize.py) gives, here against test_librosa_mel.py's numpy transcription."""
    import test_librosa_mel as lm
    bands = 20
    hp = dict(CONFIGS["raw_logistic10"][0], cin_channels=bands, num_mels=bands, fft_size=512,
              win_length=-1, win_length_ms=32.0, fmin=50, fmax=None)  # 32 ms at 16 kHz = 512
    model = make_model(hp, 21)
    checkpoint = os.path.join(workdir, "mel.pt")
    hparams = os.path.join(workdir, "mel.json")
    stats = os.path.join(workdir, "mel_stats.npy")
    out = os.path.join(workdir, "mel.fwm")
    save_checkpoint(model, "wrapped", checkpoint)
    with open(hparams, "w") as f:
        json.dump(hp, f)
    rng = np.random.default_rng(5)
    mean, scale = rng.uniform(-4, 0, bands), rng.uniform(0.3, 1.5, bands)
    np.save(stats, np.stack([mean, scale]).astype(np.float32))
    r = run([PYTHON, CONVERTER, checkpoint, hparams, out, "--meanvar", stats])
    if not check("front end: converter with --meanvar succeeds", r.returncode == 0, r.stderr.strip()):
        return
    config, _ = fwf.read_model(out)
    mel = config["local_mel"]
    expected = {"fft_size": 512, "window": "hann", "min_hz": 50.0, "max_hz": 0.0, "min_db": -100.0,
                "max_db": 50.0, "spectrum": "magnitude", "mel_scale": "slaney",
                "filter_norm": "slaney", "pad": "reflect", "framing": "librosa", "log": "log10"}
    check("front end: local_mel records librosa's front end from the hparams",
          {k: v for k, v in mel.items() if k not in ("mean", "std")} == expected, str(mel))
    check("front end: --meanvar gives local_mel mean/std (the .npy's float32 values)",
          mel.get("mean") == mean.astype(np.float32).astype(float).tolist()
          and mel.get("std") == scale.astype(np.float32).astype(float).tolist())
    if engine is None:
        return
    x = lm.test_signal(hp["sample_rate"], seconds=0.5)
    pcm = np.round(x * 32767).astype(np.int64)
    wav = os.path.join(workdir, "mel.wav")
    write_wav(wav, pcm, hp["sample_rate"])
    npy = os.path.join(workdir, "mel_feats.npy")
    r = run([engine, "mel", wav, "-m", out, "-o", npy, "-q"])
    if not check("front end: fastwave mel -m converted.fwm", r.returncode == 0, r.stderr.strip()):
        return
    got = np.load(npy)
    # upstream's load_wav divides 16-bit samples by 2^15, as fastwave's reader does.
    want = lm.log_mel(pcm / 32768.0, hp["sample_rate"], 512, 6, bands, 50, None,
                      mean.astype(np.float32), scale.astype(np.float32))
    err = max_err(got, want) if got.shape == want.shape else float("inf")
    measured["front end: fastwave mel vs numpy librosa transcription (standardised units)"] = (
        err, float(np.max(np.abs(want))))
    check("front end: features equal upstream's preprocessing (transcribed) to 1e-3",
          err <= 1e-3, f"shape {got.shape} vs {want.shape}, max error {err}")


def test_engine_files(workdir, engine):
    """Files the engine writes with the new keys re-encode to the same bytes here."""
    for label, flags in (("logistic mixture, conv_in", [
            "--blocks", "1", "--layers-per-block", "2", "--residual-channels", "4",
            "--dilation-channels", "4", "--skip-channels", "4", "--end-channels", "4", "--bias",
            "--local-channels", "3", "--local-hop", "6", "--upsample-scales", "2", "3",
            "--cin-pad", "1", "--output-distribution", "logistic_mixture", "--mixtures", "3"]),
            ("vocoder with local_mel, one Gaussian", [
                "--vocoder", "--blocks", "1", "--layers-per-block", "2",
                "--output-distribution", "gaussian_mixture"])):
        path = os.path.join(workdir, "engine_init.fwm")
        r = run([engine, "init", "-o", path, *flags])
        if check(f"format: fastwave init ({label}) succeeds", r.returncode == 0, r.stderr.strip()):
            config, tensors = fwf.read_model(path)
            check(f"format: engine's file ({label}) re-encodes to the same bytes",
                  fwf.encode(config, tensors) == open(path, "rb").read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastwave", help="path of the fastwave binary")
    parser.add_argument("--workdir", help="scratch directory (default: a temporary one)")
    parser.add_argument("--skip-engine", action="store_true",
                        help="test only the reference, the converter and the file format")
    parser.add_argument("--only", help="run only this config (and no error tests)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # the machine is shared; the models are small
    if not args.skip_engine and not args.fastwave:
        parser.error("give --fastwave PATH or --skip-engine")
    engine = None if args.skip_engine else os.path.abspath(args.fastwave)
    workdir = os.path.join(args.workdir or tempfile.mkdtemp(prefix="fastwave_"),
                           "wavenet_vocoder_parity")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    if engine is not None and not check("fastwave binary is executable",
                                        os.access(engine, os.X_OK), engine):
        engine = None
    tests = [] if args.only else [
        ("reference self-test", lambda: check("reference self-test", ref.self_test() == 0)),
        ("format", lambda: test_format(workdir))]
    tests += [(name, lambda n=name, c=c: test_config(n, *c, workdir, engine))
              for name, c in CONFIGS.items() if not args.only or name == args.only]
    if not args.only:
        tests.append(("converter errors", lambda: test_converter_errors(workdir)))
        tests.append(("2018 converter errors", lambda: test_2018_converter_errors(workdir)))
        tests.append(("layout flag", lambda: test_layout_flag(workdir)))
        tests.append(("front end", lambda: test_front_end(workdir, engine)))
        if engine is not None:
            tests.append(("engine files", lambda: test_engine_files(workdir, engine)))
    for name, test in tests:
        start = time.time()
        try:
            test()
        except Exception:
            check(f"{name} raised", False, traceback.format_exc().strip().splitlines()[-1])
            traceback.print_exc()
        print(f"  ({name}: {time.time() - start:.1f} s)")
    for name, (err, scale) in measured.items():
        print(f"measured {name}: max |engine - reference| = {err:.3g} (outputs up to {scale:.3g})")
    print(f"{results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
