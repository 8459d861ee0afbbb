#!/usr/bin/python3
"""Convert an r9y9/wavenet_vocoder checkpoint into a fastwave model file (docs/wavenet-vocoder.md).

    convert_wavenet_vocoder.py CHECKPOINT HPARAMS_JSON OUT.fwm [--meanvar STATS]
                               [--layout {2018,current}]

CHECKPOINT is what upstream's train.py saves ({"state_dict": ..., ...}) or a bare
state_dict; weight-normalised (weight_g/weight_v) and plain (weight) tensors are both
accepted, and a DataParallel "module." prefix is stripped. HPARAMS_JSON holds upstream's
hparams (its tojson.py output or a preset under egs/*/conf); keys it lacks take the
defaults of upstream's hparams.py, as upstream's own parse_json does. Upstream's scale
factors (sqrt(0.5) per residual step, sqrt(1/layers) on the skip sum) are folded into
the weights. A vocoder's file records upstream's mel front end (librosa's log10 mel
magnitude, audio.py's logmelspectrogram) as its local_mel, from the hparams; --meanvar
adds the per-band standardisation of preprocess_normalize.py.

Checkpoints of upstream's 2018 layout (v0.1.x and earlier, before its refactor of
2019-08-26: the published LJSpeech and CMU ARCTIC models) convert too: conditioning
biases, the `legacy` skip scaling and the ConvTranspose2d upsampling stages are folded
or mapped (docs/wavenet-vocoder.md); their features come from upstream's own 2018
preprocessing (no local_mel). The layout is told from the tensors and the hparams keys;
--layout settles it where neither says (an unconditional model with sparse hparams).
Every error is one line on stderr and exit code 1; the output is written atomically.
"""
import json
import math
import os
import re
import sys

PROG = os.path.basename(sys.argv[0])

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import fastwave_format as fwf
    import torch
    from torch_checkpoint import (ConvertError, OneLineParser, float_arrays, is_state_dict,
                                  load_checkpoint, one_line)
except ImportError as e:  # e.g. run by a Python without numpy or PyTorch
    sys.exit(f"{PROG}: error: {e}; run with /usr/bin/python3 (needs numpy and PyTorch)")

LAYOUTS = ("2018", "current")
LAYOUT_NAMES = {"2018": "upstream's 2018 layout (v0.1.x)", "current": "upstream's current layout"}

# The defaults of upstream's hparams.py for the keys that shape the model.
UPSTREAM_DEFAULTS = {
    "input_type": "raw", "quantize_channels": 65536, "sample_rate": 22050, "hop_size": 256,
    "output_distribution": "Logistic", "log_scale_min": -16.0, "out_channels": 30,
    "layers": 24, "stacks": 4, "residual_channels": 128, "gate_channels": 256,
    "skip_out_channels": 128, "kernel_size": 3, "cin_channels": 80, "cin_pad": 2,
    "upsample_conditional_features": True, "upsample_net": "ConvInUpsampleNetwork",
    "upsample_params": {"upsample_scales": [4, 4, 4, 4]}, "gin_channels": -1, "n_speakers": 7,
    # the mel front end (audio.py)
    "fft_size": 1024, "win_length": 1024, "win_length_ms": -1.0, "window": "hann",
    "fmin": 125, "fmax": 7600,
}
# The same for v0.1.x's hparams.py (these keys were unchanged from 2018-01 to the refactor).
UPSTREAM_2018_DEFAULTS = {
    "input_type": "raw", "quantize_channels": 65536, "sample_rate": 22050, "hop_size": 256,
    "log_scale_min": math.log(1e-14), "out_channels": 30, "layers": 24, "stacks": 4,
    "residual_channels": 512, "gate_channels": 512, "skip_out_channels": 256, "kernel_size": 3,
    "legacy": True, "cin_channels": 80, "upsample_conditional_features": True,
    "upsample_scales": [4, 4, 4, 4], "freq_axis_kernel_size": 3, "gin_channels": -1,
    "n_speakers": 7,
    "output_distribution": "Logistic",  # not an hparam yet: raw input meant logistics
}
# Hparams keys of one layout's hparams.py only (tojson.py writes every key).
HPARAM_CLUES = {
    "2018": ("legacy", "upsample_scales", "freq_axis_kernel_size", "weight_normalization",
             "builder"),
    "current": ("upsample_net", "upsample_params", "cin_pad", "output_distribution"),
}


def load_state_dict(path):
    """{name: float64 numpy array}, unwrapped and without a "module." prefix."""
    obj = load_checkpoint(path)
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not is_state_dict(obj):
        raise ConvertError(f"'{path}' holds no state_dict")
    return float_arrays(obj, np.float64, finite=True)


def load_hparams(path):
    """The JSON object as given (None values kept: upstream writes null for some keys)."""
    if not os.path.isfile(path):
        problem = "is a directory" if os.path.isdir(path) else "no such file"
        raise ConvertError(f"cannot read hparams '{path}': {problem}")
    try:
        with open(path, encoding="utf-8") as f:
            given = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConvertError(f"cannot read hparams '{path}': {one_line(e)}") from None
    if not isinstance(given, dict):
        raise ConvertError(f"hparams '{path}' is not a JSON object")
    return given


def with_defaults(given, layout):
    hp = dict(UPSTREAM_2018_DEFAULTS if layout == "2018" else UPSTREAM_DEFAULTS)
    hp.update({k: v for k, v in given.items() if v is not None})
    return hp


def layout_clues(tensors, given):
    """{layout: the first thing found that only that layout has}."""
    clues = {}
    for name in sorted(tensors):
        if name.startswith("upsample_conv."):
            clues.setdefault("2018", f"tensor '{name}'")
        elif name.startswith("upsample_net."):
            clues.setdefault("current", f"tensor '{name}'")
        elif re.fullmatch(r"conv_layers\.\d+\.conv1x1[cg]\.bias", name):
            clues.setdefault("2018", f"tensor '{name}' (a conditioning bias)")
    for layout, keys in HPARAM_CLUES.items():
        for key in keys:
            if key in given:
                clues.setdefault(layout, f"hparams key '{key}'")
    return clues


def choose_layout(tensors, given, requested=None):
    """"2018" or "current": `requested` (--layout) if nothing contradicts it, else what
    the checkpoint and the hparams agree on."""
    clues = layout_clues(tensors, given)
    if requested is not None:
        other = LAYOUTS[1 - LAYOUTS.index(requested)]
        if other in clues:
            raise ConvertError(f"--layout {requested}, but {clues[other]} belongs to "
                               f"{LAYOUT_NAMES[other]}")
        return requested
    if len(clues) == 2:
        raise ConvertError(f"{clues['2018']} belongs to {LAYOUT_NAMES['2018']} but "
                           f"{clues['current']} to its current one; are the checkpoint and "
                           "the hparams from the same version?")
    if not clues:
        raise ConvertError("cannot tell upstream's 2018 layout (v0.1.x) from its current one "
                           "(no conditioning tensors, no telling hparams key); give --layout "
                           "2018 or --layout current")
    return next(iter(clues))


def skip_factors(layout, legacy, layers):
    """What upstream's sum of the skip outputs weighs layer n's by (fastwave's is 1)."""
    if layout == "current":  # sum, then times sqrt(1/L)
        return [math.sqrt(1.0 / layers)] * layers
    if not legacy:  # v0.1.x with legacy=False: a plain sum
        return [1.0] * layers
    # legacy: skips = s_0, then skips = (skips + s_n) * sqrt(0.5) for n = 1..L-1, so s_n
    # is scaled at every step from max(n, 1) on.
    return [math.sqrt(0.5) ** (layers - max(n, 1)) for n in range(layers)]


class Weights:
    """The checkpoint's tensors, with weight normalisation folded on access; remembers
    which tensors were used, so leftovers can be reported."""

    def __init__(self, tensors):
        self.tensors, self.used = tensors, set()

    def has(self, module):
        return any(f"{module}.{p}" in self.tensors for p in ("weight", "weight_v", "weight_g"))

    def weight(self, module, dims):
        t = self.tensors
        if f"{module}.weight" in t:
            self.used.add(f"{module}.weight")
            w = t[f"{module}.weight"]
        elif f"{module}.weight_v" in t and f"{module}.weight_g" in t:
            self.used.update((f"{module}.weight_v", f"{module}.weight_g"))
            v, g = t[f"{module}.weight_v"], t[f"{module}.weight_g"]
            # weight = g * v / ||v||, the norm over every dimension but the first.
            norm = np.sqrt(np.sum(v.reshape(len(v), -1) ** 2, axis=1))
            if g.size != len(v) or not np.all(norm > 0):
                raise ConvertError(f"bad weight normalisation in '{module}' "
                                   f"(weight_g {list(g.shape)}, weight_v {list(v.shape)})")
            w = v * (g.reshape(-1) / norm).reshape((-1,) + (1,) * (v.ndim - 1))
        else:
            raise ConvertError(f"missing tensor '{module}.weight' (or weight_g/weight_v)")
        if w.ndim != dims:
            raise ConvertError(f"tensor '{module}' weight has shape {list(w.shape)}, "
                               f"expected {dims} dimensions")
        return w

    def bias(self, module, rows):
        name = f"{module}.bias"
        if name not in self.tensors:
            raise ConvertError(f"missing tensor '{name}'")
        self.used.add(name)
        b = self.tensors[name]
        if b.shape != (rows,):
            raise ConvertError(f"tensor '{name}' has shape {list(b.shape)}, expected [{rows}]")
        return b


def expect_shape(name, w, shape):
    if tuple(w.shape) != tuple(shape):
        raise ConvertError(f"tensor '{name}' has shape {list(w.shape)}, expected {list(shape)}")


def agree(hp, given, key, value, what):
    """The hparams' `key` must equal what the tensors say."""
    if hp.get(key) != value:
        source = "hparams" if key in given else "upstream's default"
        raise ConvertError(f"{source} {key}={hp.get(key)!r}, but the checkpoint's {what} "
                           f"gives {value!r}")


def int_hparam(hp, key):
    value = hp.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConvertError(f"hparams '{key}' must be an integer, got {value!r}")
    return value


def bool_hparam(hp, key):
    value = hp.get(key)
    if not isinstance(value, bool):
        raise ConvertError(f"hparams '{key}' must be true or false, got {value!r}")
    return value


def convert(tensors, hp, given, meanvar=None, layout="current"):
    """(fastwave config, tensors) from an upstream state_dict and its hparams (`hp` with
    the defaults of `layout`, `given` as in the file)."""
    W = Weights(tensors)
    input_type = hp["input_type"]
    if input_type == "mulaw":
        raise ConvertError("input_type 'mulaw' (scalar mu-law input with a mixture output) is "
                           "not supported; only 'mulaw-quantize' and 'raw'")
    if input_type not in ("mulaw-quantize", "raw"):
        raise ConvertError(f"unknown input_type {input_type!r}")

    first = W.weight("first_conv", 3)
    residual, inputs, _ = first.shape
    expect_shape("first_conv", first, (residual, inputs, 1))
    end2 = W.weight("last_conv_layers.3", 3)
    out_channels, skip, _ = end2.shape
    agree(hp, given, "out_channels", out_channels, "last_conv_layers.3")
    agree(hp, given, "residual_channels", residual, "first_conv")
    if input_type == "mulaw-quantize":
        if inputs != out_channels:
            raise ConvertError(f"input_type 'mulaw-quantize', but first_conv takes {inputs} "
                               f"inputs for {out_channels} classes")
        agree(hp, given, "quantize_channels", out_channels, "last_conv_layers.3")
        output, mixtures, classes = "softmax", 0, out_channels
    else:
        if inputs != 1:
            raise ConvertError(f"input_type 'raw', but first_conv takes {inputs} inputs, not 1")
        dist = hp["output_distribution"]
        if dist == "Logistic" and out_channels % 3 == 0:
            output, mixtures = "logistic_mixture", out_channels // 3
        elif dist == "Normal" and (out_channels == 2 or out_channels % 3 == 0):
            output, mixtures = "gaussian_mixture", max(1, out_channels // 3)
        elif dist in ("Logistic", "Normal"):
            raise ConvertError(f"output_distribution {dist} needs out_channels = 3*K"
                               f"{' or 2' if dist == 'Normal' else ''}, got {out_channels}")
        else:
            raise ConvertError(f"unknown output_distribution {dist!r}")
        classes = fwf.SCALAR_CLASSES

    numbers = sorted(int(m.group(1)) for m in map(
        re.compile(r"conv_layers\.(\d+)\.conv\.(weight|weight_v)$").match, tensors) if m)
    layers = len(numbers)
    if layers == 0 or numbers != list(range(layers)):
        raise ConvertError(f"conv_layers are not numbered 0..{layers - 1}" if layers
                           else "missing tensor 'conv_layers.0.conv.weight'")
    agree(hp, given, "layers", layers, "conv_layers")
    stacks = int_hparam(hp, "stacks")
    if stacks < 1 or layers % stacks:
        raise ConvertError(f"{layers} layers are not divisible by stacks={stacks}")
    conv0 = W.weight("conv_layers.0.conv", 3)
    gate, _, kernel = conv0.shape
    if gate % 2:
        raise ConvertError(f"gate_channels {gate} is odd; it must split into two halves")
    agree(hp, given, "gate_channels", gate, "conv_layers.0.conv")
    agree(hp, given, "kernel_size", kernel, "conv_layers.0.conv")
    agree(hp, given, "skip_out_channels", skip, "last_conv_layers.3")
    half = gate // 2

    cin = W.weight("conv_layers.0.conv1x1c", 3).shape[1] if W.has("conv_layers.0.conv1x1c") else -1
    gin = W.weight("conv_layers.0.conv1x1g", 3).shape[1] if W.has("conv_layers.0.conv1x1g") else -1
    for key, value, what in (("cin_channels", cin, "conv1x1c"), ("gin_channels", gin, "conv1x1g")):
        if (int_hparam(hp, key) > 0) != (value > 0) or (value > 0 and hp[key] != value):
            raise ConvertError(f"hparams {key}={hp[key]}, but the checkpoint "
                               f"{'has no ' + what if value < 0 else f'has {what} of {value} inputs'}")
    speakers = 0
    if gin > 0:
        if "embed_speakers.weight" not in tensors:
            raise ConvertError("global conditioning without a speaker embedding "
                               "(use_speaker_embedding=False) is not supported")
        emb = tensors["embed_speakers.weight"]
        W.used.add("embed_speakers.weight")
        if emb.ndim != 2 or emb.shape[1] != gin:
            raise ConvertError(f"tensor 'embed_speakers.weight' has shape {list(emb.shape)}, "
                               f"expected [n_speakers, {gin}]")
        speakers = emb.shape[0]
        agree(hp, given, "n_speakers", speakers, "embed_speakers")

    out = {}
    c = math.sqrt(0.5)
    legacy = bool_hparam(hp, "legacy") if layout == "2018" else False
    skip_scales = skip_factors(layout, legacy, layers)
    out["start_conv.weight"] = first
    out["start_conv.bias"] = W.bias("first_conv", residual)
    for n in range(layers):
        p = f"conv_layers.{n}"
        a = c ** n  # the upstream stream entering layer n is a times fastwave's
        conv = W.weight(f"{p}.conv", 3)
        expect_shape(f"{p}.conv", conv, (gate, residual, kernel))
        bias = W.bias(f"{p}.conv", gate)
        for kind, width, prefix in (("conv1x1c", cin, "local"), ("conv1x1g", gin, "global")):
            if width > 0:
                w = W.weight(f"{p}.{kind}", 3)
                expect_shape(f"{p}.{kind}", w, (gate, width, 1))
                out[f"{prefix}_filter_convs.{n}.weight"] = w[:half]
                out[f"{prefix}_gate_convs.{n}.weight"] = w[half:]
                if layout == "2018":  # added to the dilated conv's output, as its bias is
                    bias = bias + W.bias(f"{p}.{kind}", gate)
            elif W.has(f"{p}.{kind}"):
                raise ConvertError(f"layer {n} has {kind} but layer 0 has not")
        out[f"filter_convs.{n}.weight"], out[f"gate_convs.{n}.weight"] = a * conv[:half], a * conv[half:]
        out[f"filter_convs.{n}.bias"], out[f"gate_convs.{n}.bias"] = bias[:half], bias[half:]
        res = W.weight(f"{p}.conv1x1_out", 3)
        expect_shape(f"{p}.conv1x1_out", res, (residual, half, 1))
        out[f"residual_convs.{n}.weight"] = res / a
        out[f"residual_convs.{n}.bias"] = W.bias(f"{p}.conv1x1_out", residual) / a
        sk = W.weight(f"{p}.conv1x1_skip", 3)
        expect_shape(f"{p}.conv1x1_skip", sk, (skip, half, 1))
        out[f"skip_convs.{n}.weight"] = sk * skip_scales[n]
        out[f"skip_convs.{n}.bias"] = W.bias(f"{p}.conv1x1_skip", skip) * skip_scales[n]
    end1 = W.weight("last_conv_layers.1", 3)
    expect_shape("last_conv_layers.1", end1, (skip, skip, 1))
    out["end_conv_1.weight"], out["end_conv_1.bias"] = end1, W.bias("last_conv_layers.1", skip)
    out["end_conv_2.weight"], out["end_conv_2.bias"] = end2, W.bias("last_conv_layers.3", out_channels)
    if gin > 0:
        out["global_embedding.weight"] = tensors["embed_speakers.weight"]

    extra = {}
    if cin > 0 and layout == "2018":
        if meanvar is not None:
            raise ConvertError("--meanvar is for the current layout's standardised features; "
                               "2018 features are scaled to [0, 1] by upstream's preprocessing")
        extra = transposed_upsampling(W, hp, given, cin, out)
    elif cin > 0:
        extra = upsampling(W, hp, given, cin, out)
        extra["local_mel"] = local_mel(hp, given, cin, extra["local_hop"], meanvar)
    elif meanvar is not None:
        raise ConvertError("--meanvar given, but the model takes no local features")
    # Upstream builds its upsampling net whenever upsample_conditional_features is set,
    # even without local features, which never use it.
    unused_upsampling = ("upsample_net.", "upsample_conv.") if cin <= 0 else ()
    leftovers = sorted(name for name in tensors if name not in W.used
                       and not name.startswith(unused_upsampling))
    if leftovers:
        raise ConvertError(f"unexpected tensor '{leftovers[0]}' "
                           f"({len(leftovers)} not used); is this a wavenet_vocoder WaveNet?")
    if output != "softmax":
        extra.update(output=output, mixtures=mixtures)
        lsm = hp["log_scale_min"]
        if isinstance(lsm, bool) or not isinstance(lsm, (int, float)) or not math.isfinite(lsm) \
                or lsm >= 0:
            raise ConvertError(f"hparams 'log_scale_min' must be a number < 0, got {lsm!r}")
        extra["log_scale_min"] = float(lsm)
    try:
        config = fwf.make_config(
            blocks=stacks, layers_per_block=layers // stacks, residual_channels=residual,
            dilation_channels=half, skip_channels=skip, end_channels=skip, classes=classes,
            kernel_size=kernel, bias=True, sample_rate=int_hparam(hp, "sample_rate"),
            speakers=speakers, global_channels=max(gin, 0), local_channels=max(cin, 0),
            local_hop=extra.pop("local_hop", 0), **extra)
    except fwf.FormatError as e:
        raise ConvertError(str(e)) from None
    return config, {k: v.astype(np.float32) for k, v in out.items()}


def number_hparam(hp, key):
    value = hp.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConvertError(f"hparams '{key}' must be a number, got {value!r}")
    return float(value)


def local_mel(hp, given, cin, hop, meanvar=None):
    """fastwave's local_mel for upstream's logmelspectrogram (audio.py): librosa.stft
    (centred, reflect-padded, periodic Hann), magnitude, librosa's Slaney-scale,
    area-normalised mel filters from fmin to fmax, log10(max(S, 1e-10))."""
    rate = int_hparam(hp, "sample_rate")
    fft_size = int_hparam(hp, "fft_size")
    win_length = hp.get("win_length")
    if isinstance(win_length, (int, float)) and not isinstance(win_length, bool) and win_length < 0:
        win_length = int(number_hparam(hp, "win_length_ms") / 1000 * rate)  # as audio.py
    if win_length != fft_size:
        raise ConvertError(f"hparams win_length={win_length!r} differs from fft_size={fft_size}: "
                           "fastwave's mel front end windows the whole FFT")
    if hp.get("window") != "hann":
        raise ConvertError(f"hparams window={hp.get('window')!r} is not supported (only 'hann')")
    if "num_mels" in given and given["num_mels"] != cin:
        raise ConvertError(f"hparams num_mels={given['num_mels']!r}, but the checkpoint's "
                           f"conv1x1c takes {cin} features")
    if "fmin" in given and given["fmin"] is None:
        raise ConvertError("hparams 'fmin' must be a number, got None")
    fmin = number_hparam(hp, "fmin")
    # fmax null: librosa's default, the Nyquist frequency (fastwave's max_hz 0).
    fmax = 0.0 if "fmax" in given and given["fmax"] is None else number_hparam(hp, "fmax")
    if not 0 <= fmin < rate / 2 or not (fmax == 0 or fmin < fmax <= rate / 2):
        raise ConvertError(f"hparams fmin={fmin:g}, fmax={fmax:g} are not a band within "
                           f"0..{rate / 2:g} Hz (sample_rate {rate})")
    if not max(16, hop) <= fft_size <= 65536 or cin > fft_size // 2:
        raise ConvertError(f"hparams fft_size={fft_size} must be in [max(16, hop {hop}), 65536] "
                           f"and at least twice the {cin} mel bands")
    mel = {"fft_size": fft_size, "window": "hann", "min_hz": fmin, "max_hz": fmax,
           "min_db": -100.0, "max_db": 50.0, "spectrum": "magnitude", "mel_scale": "slaney",
           "filter_norm": "slaney", "pad": "reflect", "framing": "librosa", "log": "log10"}
    if meanvar is not None:
        mean, std = meanvar
        if len(mean) != cin:
            raise ConvertError(f"--meanvar has {len(mean)} bands, but the model takes {cin}")
        mel["mean"], mel["std"] = [float(x) for x in mean], [float(x) for x in std]
    return mel


def load_meanvar(path):
    """(mean, std) per band: a float .npy [2, bands] of mean and scale, or upstream's
    StandardScaler saved by joblib (compute-meanvar-stats.py; needs joblib and sklearn)."""
    if not os.path.isfile(path):
        problem = "is a directory" if os.path.isdir(path) else "no such file"
        raise ConvertError(f"cannot read --meanvar '{path}': {problem}")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        try:
            stats = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ConvertError(f"cannot read --meanvar '{path}': {one_line(e)}") from None
        if stats.ndim != 2 or stats.shape[0] != 2 or stats.shape[1] < 1 or \
                not np.issubdtype(stats.dtype, np.floating):
            raise ConvertError(f"--meanvar '{path}' has shape {list(stats.shape)} and dtype "
                               f"{stats.dtype}, expected float [2, bands] (mean, scale)")
        mean, std = stats[0].astype(np.float64), stats[1].astype(np.float64)
    else:
        try:
            import joblib
        except ImportError as e:
            raise ConvertError(f"--meanvar '{path}' is not a .npy and reading upstream's "
                               f"joblib scaler needs joblib and scikit-learn ({e}); save "
                               "np.stack([scaler.mean_, scaler.scale_]) as .npy instead") from None
        try:
            scaler = joblib.load(path)
            mean = np.asarray(scaler.mean_, dtype=np.float64)
            std = np.asarray(scaler.scale_, dtype=np.float64)
        except Exception as e:  # pickles fail in many ways
            raise ConvertError(f"cannot read --meanvar '{path}' as a StandardScaler: "
                               f"{one_line(e)}") from None
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ConvertError(f"--meanvar '{path}': mean_ and scale_ are not one per band")
    if not np.all(np.isfinite(mean)) or not np.all(np.isfinite(std)) or not np.all(std > 0):
        raise ConvertError(f"--meanvar '{path}' needs finite means and finite scales > 0")
    return mean, std


def upsampling(W, hp, given, cin, out):
    """The upsampling network's config keys; adds its tensors to `out`."""
    if not hp["upsample_conditional_features"]:
        raise ConvertError("upsample_conditional_features=False (frames repeated before "
                           "the 1x1 convs of each layer) is not supported")
    net, params = hp["upsample_net"], hp["upsample_params"]
    if not isinstance(params, dict):
        raise ConvertError("hparams 'upsample_params' must be an object")
    activation = params.get("upsample_activation", "none")
    if activation != "none":
        raise ConvertError(f"upsample_activation {activation!r} is not supported (only 'none')")
    if params.get("mode", "nearest") != "nearest":
        raise ConvertError(f"upsample mode {params['mode']!r} is not supported (only 'nearest')")
    scales = params.get("upsample_scales")
    hop = upsampling_hop(given, scales, "upsample_params.upsample_scales")
    fk = params.get("freq_axis_kernel_size", 1)
    cin_pad = int_hparam(hp, "cin_pad")  # upstream's train.py overrides upsample_params'
    if net == "ConvInUpsampleNetwork":
        conv_in, stage_prefix = True, "upsample_net.upsample.up_layers"
        w = W.weight("upsample_net.conv_in", 3)
        expect_shape("upsample_net.conv_in", w, (cin, cin, 2 * cin_pad + 1))
        out["upsample.conv_in.weight"] = w
    elif net == "UpsampleNetwork":
        if cin_pad != 0:
            raise ConvertError(f"UpsampleNetwork with cin_pad={cin_pad} is not supported "
                               "(only cin_pad 0; ConvInUpsampleNetwork takes any)")
        conv_in, stage_prefix = False, "upsample_net.up_layers"
    else:
        raise ConvertError(f"upsample_net {net!r} is not supported "
                           "(ConvInUpsampleNetwork or UpsampleNetwork)")
    for i, s in enumerate(scales):
        name = f"{stage_prefix}.{2 * i + 1}"  # after each stretch, which has no tensors
        w = W.weight(name, 4)
        expect_shape(name, w, (1, 1, fk, 2 * s + 1))
        out[f"upsample.convs.{i}.weight"] = w
    return dict(local_hop=hop, upsample_scales=list(scales), upsample_freq_kernel=fk,
                upsample_conv_in=conv_in, cin_pad=cin_pad)


def upsampling_hop(given, scales, key):
    """The hop of valid upsampling scales (hparams `key`), which hop_size must match."""
    if not isinstance(scales, list) or not scales or \
            not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in scales):
        raise ConvertError(f"hparams '{key}' must be a list of positive integers, got {scales!r}")
    hop = int(np.prod(scales))
    if "hop_size" in given and given["hop_size"] != hop:
        raise ConvertError(f"hparams hop_size={given['hop_size']}, but upsample_scales "
                           f"multiply to {hop}")
    return hop


def transposed_upsampling(W, hp, given, cin, out):
    """The 2018 upsampling network's config keys (fastwave's upsample_transposed); adds
    its tensors to `out`. Upstream's stages are ConvTranspose2d(1, 1, (F, s), stride
    (1, s), padding ((F-1)//2, 0)) with a bias, each followed by a ReLU, with no conv_in
    and no padding frames: exactly fastwave's transposed stages, so nothing is folded."""
    if not hp["upsample_conditional_features"]:
        raise ConvertError("upsample_conditional_features=False (frames repeated before "
                           "the 1x1 convs of each layer) is not supported")
    scales = hp["upsample_scales"]
    hop = upsampling_hop(given, scales, "upsample_scales")
    fk = int_hparam(hp, "freq_axis_kernel_size")
    if fk < 1 or fk % 2 == 0:
        raise ConvertError(f"hparams freq_axis_kernel_size={fk} must be odd: upstream's "
                           f"padding (k-1)//2 keeps the {cin} feature channels only then")
    # The ReLUs are entries of upstream's ModuleList too, so its convs are 0, 2, 4, ...
    found = sorted({int(m.group(1)) for m in map(
        re.compile(r"upsample_conv\.(\d+)\.").match, W.tensors) if m})
    wanted = list(range(0, 2 * len(scales), 2))
    if found != wanted:
        raise ConvertError(f"hparams upsample_scales={scales} means convs upsample_conv."
                           f"{{{','.join(map(str, wanted))}}}, but the checkpoint has "
                           + (f"upsample_conv.{{{','.join(map(str, found))}}}" if found
                              else "no upsample_conv tensors"))
    for i, s in enumerate(scales):
        name = f"upsample_conv.{2 * i}"
        w = W.weight(name, 4)
        expect_shape(name, w, (1, 1, fk, s))
        out[f"upsample.convs.{i}.weight"] = w
        out[f"upsample.convs.{i}.bias"] = W.bias(name, 1)
    return dict(local_hop=hop, upsample_scales=list(scales), upsample_freq_kernel=fk,
                upsample_transposed=True)


def main(argv=None):
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="upstream checkpoint (torch.save)")
    parser.add_argument("hparams", help="upstream hparams as JSON")
    parser.add_argument("out", help="fastwave model file to write (.fwm)")
    parser.add_argument("--meanvar", metavar="STATS",
                        help="the features' per-band standardisation: a .npy [2, bands] of mean "
                             "and scale, or upstream's joblib StandardScaler")
    parser.add_argument("--layout", choices=LAYOUTS,
                        help="upstream's code the checkpoint was trained with: 2018 (v0.1.x, "
                             "before its 2019-08 refactor) or current (default: told from the "
                             "checkpoint and the hparams)")
    args = parser.parse_args(argv)
    hp = {}
    try:
        tensors = load_state_dict(args.checkpoint)
        given = load_hparams(args.hparams)
        layout = choose_layout(tensors, given, args.layout)
        hp = with_defaults(given, layout)
        meanvar = load_meanvar(args.meanvar) if args.meanvar is not None else None
        config, out = convert(tensors, hp, given, meanvar, layout)
        fwf.write_model(args.out, config, out)
    except (ConvertError, fwf.FormatError) as e:
        sys.exit(f"{PROG}: error: {e}")
    except OSError as e:
        sys.exit(f"{PROG}: error: cannot write '{args.out}': {e.strerror or one_line(e)}")
    kind = config["output"] if config["output"] == "softmax" else \
        f"{config['output']} of {config['mixtures']}"
    bins = hp.get("quantize_channels")
    if config["output"] == "logistic_mixture" and bins != fwf.SCALAR_CLASSES:
        print(f"note: upstream's likelihood used {bins!r} bins (quantize_channels); "
              f"fastwave eval's NLL uses {fwf.SCALAR_CLASSES}, so the two differ")
    print(f"wrote {args.out} ({layout} layout): {config['blocks']} x {config['layers_per_block']} "
          f"layers, {kind}, receptive field {fwf.receptive_field(config)}, "
          f"{sum(t.size for t in out.values())} parameters")
    if config["local_channels"] and config["local_mel"] is None:
        print(f"note: {args.out} records no mel front end: a 2018 model takes the features of "
              "upstream's 2018 preprocessing (lws STFT, 20 log10 mel - ref_level_db, scaled to "
              "[0, 1]), which fastwave mel does not compute; give those (*-feats.npy) to "
              "fastwave vocode --mel")
    elif config["local_channels"]:
        normalised = "with" if args.meanvar is not None else "without"
        print(f"note: fastwave mel -m {args.out} computes the features of upstream's "
              f"preprocessing ({normalised} its per-band mean/var normalisation; upstream's "
              f"highpass and trimming of the waveform are not applied)")


if __name__ == "__main__":
    main()
