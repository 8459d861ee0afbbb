#!/usr/bin/python3
"""A PyTorch reference for r9y9/wavenet_vocoder's WaveNet, written for fastwave's parity test.

This is our own transcription of the model's maths (teacher-forced forward pass only), not
a copy of the upstream code. Module and parameter names follow the upstream state_dict
(`first_conv`, `conv_layers.N.conv`, `conv_layers.N.conv1x1c`, ..., `last_conv_layers.1`,
`last_conv_layers.3`, `embed_speakers`, `upsample_net...`), so an upstream checkpoint's
state_dict loads into `WaveNetVocoder(hparams)` as it is.

Two layouts of upstream's code (docs/wavenet-vocoder.md):
  "current": from its refactor of 2019-08-26 (commit 90163e2) on.
  "2018":    v0.1.x and everything before that refactor (the published 2018 checkpoints):
             conditioning 1x1 convs with biases, skips summed as
             skips = (skips + s) * sqrt(0.5) after the first (`legacy`, the default) or
             plainly (no sqrt(1/L)), and ConvTranspose2d upsampling stages with a bias and
             a ReLU each, in a ModuleList `upsample_conv` whose ReLUs are entries too;
             hparams `upsample_scales` and `freq_axis_kernel_size` at the top level.

Also here: fastwave's UniformSource (splitmix64) and its mixture sampler, and the
log-likelihoods upstream trains with (discretized mixture of logistics, Gaussian mixture).

    wavenet_vocoder_reference.py          # runs a small self-test
"""
import math
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

SCALAR_CODES = 65536  # fastwave's 16-bit codes for scalar-input models
LAYOUTS = ("current", "2018")


def hparam(hp, key, default=None):
    return hp[key] if key in hp and hp[key] is not None else default


def upsample_settings(hp, layout="current"):
    """(kind, scales, freq_kernel, cin_pad) of the hparams' upsampling network, or None."""
    if not hparam(hp, "upsample_conditional_features", False) or hparam(hp, "cin_channels", -1) <= 0:
        return None
    if layout == "2018":  # top-level hparams; no conv_in, so no padding frames
        return ("ConvTranspose2d", list(hp["upsample_scales"]),
                int(hparam(hp, "freq_axis_kernel_size", 3)), 0)
    params = dict(hparam(hp, "upsample_params", {}))
    cin_pad = hparam(hp, "cin_pad", params.get("cin_pad", 0))
    return (hparam(hp, "upsample_net", "ConvInUpsampleNetwork"), list(params["upsample_scales"]),
            int(params.get("freq_axis_kernel_size", 1)), int(cin_pad))


def normed(conv):
    """Upstream stores its convolutions with weight normalisation (weight_g, weight_v)."""
    return nn.utils.weight_norm(conv)


class Stretch(nn.Module):
    """Nearest-neighbour stretch of the last (time) axis; holds no parameters."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.repeat_interleave(x, self.scale, dim=-1)


class UpsampleNetwork(nn.Module):
    """Stages of stretch + Conv2d(1, 1, (F, 2s+1)) with zero padding; no activation."""

    def __init__(self, upsample_scales, freq_axis_kernel_size=1):
        super().__init__()
        self.up_layers = nn.ModuleList()
        for s in upsample_scales:
            self.up_layers.append(Stretch(s))
            self.up_layers.append(normed(nn.Conv2d(
                1, 1, (freq_axis_kernel_size, 2 * s + 1),
                padding=((freq_axis_kernel_size - 1) // 2, s), bias=False)))

    def forward(self, c):  # [B, C, frames] -> [B, C, frames * prod(scales)]
        c = c.unsqueeze(1)
        for layer in self.up_layers:
            c = layer(c)
        return c.squeeze(1)


class ConvInUpsampleNetwork(nn.Module):
    """A plain (unpadded, bias-free) Conv1d over 2*cin_pad+1 frames, then UpsampleNetwork."""

    def __init__(self, upsample_scales, freq_axis_kernel_size=1, cin_pad=0, cin_channels=80):
        super().__init__()
        self.conv_in = nn.Conv1d(cin_channels, cin_channels, 2 * cin_pad + 1, bias=False)
        self.upsample = UpsampleNetwork(upsample_scales, freq_axis_kernel_size)

    def forward(self, c):
        return self.upsample(self.conv_in(c))


def transposed_upsampling(upsample_scales, freq_axis_kernel_size, wrap):
    """The 2018 upsampling: per scale s a ConvTranspose2d(1, 1, (F, s), stride (1, s),
    padding ((F-1)//2, 0)) with a bias, then a ReLU. The ReLUs are entries of the list, so
    the convs' parameters are upsample_conv.0, .2, .4, ..."""
    layers = nn.ModuleList()
    for s in upsample_scales:
        layers.append(wrap(nn.ConvTranspose2d(
            1, 1, (freq_axis_kernel_size, s), stride=(1, s),
            padding=((freq_axis_kernel_size - 1) // 2, 0), bias=True)))
        layers.append(nn.ReLU())
    return layers


class ResidualLayer(nn.Module):
    """One gated residual layer: a dilated conv whose output halves are tanh / sigmoid.
    `conditioning_bias`: the 2018 conv1x1c / conv1x1g have biases. `wrap`: weight
    normalisation or not (the 2018 hparam weight_normalization)."""

    def __init__(self, residual, gate, kernel_size, dilation, skip, cin, gin,
                 conditioning_bias=False, wrap=normed):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.conv = wrap(nn.Conv1d(residual, gate, kernel_size, dilation=dilation, bias=True))
        self.conv1x1c = wrap(nn.Conv1d(cin, gate, 1, bias=conditioning_bias)) if cin > 0 else None
        self.conv1x1g = wrap(nn.Conv1d(gin, gate, 1, bias=conditioning_bias)) if gin > 0 else None
        self.conv1x1_out = wrap(nn.Conv1d(gate // 2, residual, 1, bias=True))
        self.conv1x1_skip = wrap(nn.Conv1d(gate // 2, skip, 1, bias=True))

    def forward(self, x, c=None, g=None):  # x [B, residual, T]
        # Causal: left zero padding of (k-1)*d, so output t sees x[t - (k-1-j)*d] at tap j.
        h = self.conv(F.pad(x, ((self.kernel_size - 1) * self.dilation, 0)))
        if c is not None:
            h = h + self.conv1x1c(c)
        if g is not None:
            h = h + self.conv1x1g(g)
        half = h.shape[1] // 2
        z = torch.tanh(h[:, :half]) * torch.sigmoid(h[:, half:])
        return (self.conv1x1_out(z) + x) * math.sqrt(0.5), self.conv1x1_skip(z)


class WaveNetVocoder(nn.Module):
    """Upstream's WaveNet for a dict of its hparams (the keys of its hparams.py), in one
    of the LAYOUTS."""

    def __init__(self, hp, layout="current"):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"reference: unknown layout {layout!r}")
        self.hp, self.layout = dict(hp), layout
        old = layout == "2018"
        # 2018 with weight_normalization=False: plain convs, except first_conv, which
        # upstream built with its helper's default (weight-normed) either way.
        wrap = normed if not old or hparam(hp, "weight_normalization", True) else (lambda m: m)
        self.legacy_skips = old and hparam(hp, "legacy", True)
        self.input_type = hparam(hp, "input_type", "raw")
        self.scalar_input = self.input_type in ("raw", "mulaw")
        self.out_channels = hparam(hp, "out_channels")
        self.output_distribution = hparam(hp, "output_distribution", "Logistic")
        layers, stacks = hparam(hp, "layers"), hparam(hp, "stacks")
        residual, gate = hparam(hp, "residual_channels"), hparam(hp, "gate_channels")
        skip, k = hparam(hp, "skip_out_channels"), hparam(hp, "kernel_size")
        cin, gin = hparam(hp, "cin_channels", -1), hparam(hp, "gin_channels", -1)
        assert layers % stacks == 0
        self.cin, self.gin = cin, gin
        self.first_conv = normed(nn.Conv1d(1 if self.scalar_input else self.out_channels,
                                           residual, 1, bias=True))
        self.conv_layers = nn.ModuleList(
            ResidualLayer(residual, gate, k, 2 ** (n % (layers // stacks)), skip, cin, gin,
                          conditioning_bias=old, wrap=wrap)
            for n in range(layers))
        self.last_conv_layers = nn.ModuleList([
            nn.ReLU(), wrap(nn.Conv1d(skip, skip, 1, bias=True)),
            nn.ReLU(), wrap(nn.Conv1d(skip, self.out_channels, 1, bias=True))])
        n_speakers = hparam(hp, "n_speakers", 0)
        self.embed_speakers = nn.Embedding(n_speakers, gin) if gin > 0 and n_speakers else None
        self.upsample = upsample_settings(hp, layout)
        self.upsample_net = None
        if self.upsample is not None:
            kind, scales, fk, cin_pad = self.upsample
            if kind == "ConvTranspose2d":
                self.upsample_conv = transposed_upsampling(scales, fk, wrap)
            elif kind == "ConvInUpsampleNetwork":
                self.upsample_net = ConvInUpsampleNetwork(scales, fk, cin_pad, cin)
            elif kind == "UpsampleNetwork" and cin_pad == 0:
                self.upsample_net = UpsampleNetwork(scales, fk)
            else:
                raise ValueError(f"reference: unsupported upsample net {kind} (cin_pad {cin_pad})")
        self.receptive_field = (k - 1) * sum(2 ** (n % (layers // stacks))
                                             for n in range(layers)) + 1

    def hop(self):
        return int(np.prod(self.upsample[1])) if self.upsample else int(hparam(self.hp, "hop_size"))

    def upsampled(self, features):
        """Unpadded features [frames, cin] -> [1, cin, frames * hop], as at synthesis:
        frames replicated cin_pad times at each edge first (upstream's evaluate.py)."""
        c = torch.as_tensor(np.asarray(features), dtype=self.dtype()).T.unsqueeze(0)
        if self.upsample is None:
            return torch.repeat_interleave(c, self.hop(), dim=-1)
        if self.upsample[0] == "ConvTranspose2d":  # over the [channels, frames] plane
            c = c.unsqueeze(1)
            for layer in self.upsample_conv:
                c = layer(c)
            return c.squeeze(1)
        pad = self.upsample[3]
        if pad > 0:
            c = F.pad(c, (pad, pad), mode="replicate")
        return self.upsample_net(c)

    def dtype(self):
        return next(self.parameters()).dtype

    def forward(self, inputs, features=None, speaker=None):
        """Teacher-forced outputs [T, out_channels]; row t is the distribution of sample
        t+1. `inputs`: class ids [T] (mulaw-quantize) or values in [-1, 1] [T] (raw)."""
        inputs = np.asarray(inputs)
        T = len(inputs)
        if self.scalar_input:
            x = torch.as_tensor(inputs, dtype=self.dtype()).view(1, 1, T)
        else:
            x = F.one_hot(torch.as_tensor(inputs, dtype=torch.long), self.out_channels)
            x = x.to(self.dtype()).T.unsqueeze(0)
        c = g = None
        if self.cin > 0:
            c = self.upsampled(features)
            assert c.shape[-1] >= T, f"features give {c.shape[-1]} samples, need {T}"
            c = c[:, :, :T]
        if self.gin > 0:
            g = self.embed_speakers.weight[speaker].view(1, -1, 1).expand(1, -1, T)
        x = self.first_conv(x)
        skips = None
        for layer in self.conv_layers:
            x, s = layer(x, c, g)
            if skips is None:
                skips = s
            elif self.legacy_skips:  # 2018, legacy: every sum after the first is scaled
                skips = (skips + s) * math.sqrt(0.5)
            else:
                skips = skips + s
        x = skips
        if self.layout == "current":
            x = x * math.sqrt(1.0 / len(self.conv_layers))
        for layer in self.last_conv_layers:
            x = layer(x)
        return x[0].T


# -- fastwave's uniforms and mixture sampler --------------------------------------------

class UniformSource:
    """fastwave's UniformSource (src/engine/sampler.cpp): splitmix64, 53-bit doubles."""
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        z ^= z >> 31
        return (z >> 11) * 2.0 ** -53


def mixture_parts(row, kind, mixtures):
    """(logit_probs or None, means, log_scales) of one output row, as float64 arrays."""
    row = np.asarray(row, np.float64)
    if kind == "gaussian_mixture" and mixtures == 1 and len(row) == 2:
        return None, row[0:1], row[1:2]
    K = mixtures
    return row[:K], row[K:2 * K], row[2 * K:3 * K]


def sample_code(row, kind, mixtures, temperature, uniforms):
    """One 16-bit code from an output row, drawing from `uniforms` (a UniformSource) in
    fastwave's order, with its operations in its order (src/engine/mixture.cpp).
    Returns (code, x) where x is the value before clamping and rounding."""
    def draw():
        return 1e-5 + (1.0 - 2e-5) * uniforms.next()
    temperature = float(np.float32(temperature))  # the engine's temperature is a float
    logits, means, log_scales = mixture_parts(row, kind, mixtures)
    k = 0
    if mixtures > 1:
        v = np.array([draw() for _ in range(mixtures)])
        score = logits / temperature - np.log(-np.log(v)) if temperature > 0 else logits
        k = int(np.argmax(score))  # the first maximum
    if kind == "logistic_mixture":
        v = draw()
        noise = math.log(v) - math.log(1.0 - v)
    else:
        v1, v2 = draw(), draw()
        noise = math.sqrt(-2.0 * math.log(v1)) * math.cos(2.0 * math.pi * v2)
    x = means[k] + temperature * math.exp(log_scales[k]) * noise
    step = np.rint(min(1.0, max(-1.0, x)) * 32768.0)  # ties to even
    return int(min(32767.0, step)) + 32768, x


def code_to_value(code):
    return (np.asarray(code, np.float64) - 32768.0) / 32768.0


# -- the log-likelihoods upstream trains with --------------------------------------------

def logistic_mixture_nll(out, target, log_scale_min=-16.0, num_classes=SCALAR_CODES):
    """Per-position NLL (nats) of targets in [-1, 1] under a discretized mixture of
    logistics with bins of width 2/(num_classes-1), the edge bins open (upstream's loss,
    including its fallback to the density where a bin's mass is below 1e-5).
    out [T, 3K] (torch), target [T]."""
    K = out.shape[1] // 3
    logit_probs, means = out[:, :K], out[:, K:2 * K]
    log_scales = torch.clamp(out[:, 2 * K:3 * K], min=log_scale_min)
    y = target.view(-1, 1).expand_as(means)
    centred = y - means
    inv_s = torch.exp(-log_scales)
    half_bin = 1.0 / (num_classes - 1)
    upper, lower = inv_s * (centred + half_bin), inv_s * (centred - half_bin)
    log_cdf_upper = upper - F.softplus(upper)  # log sigmoid(upper): the left edge bin
    log_sf_lower = -F.softplus(lower)  # log(1 - sigmoid(lower)): the right edge bin
    mass = torch.sigmoid(upper) - torch.sigmoid(lower)
    mid = inv_s * centred
    log_density = mid - log_scales - 2.0 * F.softplus(mid)
    inner = torch.where(mass > 1e-5, torch.log(torch.clamp(mass, min=1e-12)),
                        log_density - math.log((num_classes - 1) / 2))
    log_p = torch.where(y < -0.999, log_cdf_upper, torch.where(y > 0.999, log_sf_lower, inner))
    return -torch.logsumexp(log_p + F.log_softmax(logit_probs, dim=-1), dim=-1)


def gaussian_mixture_nll(out, target, log_scale_min=-16.0):
    """Per-position NLL (nats, a density: upstream's continuous loss). out [T, 2] or [T, 3K]."""
    if out.shape[1] == 2:
        means, log_scales, logit_probs = out[:, 0:1], out[:, 1:2], None
    else:
        K = out.shape[1] // 3
        logit_probs, means, log_scales = out[:, :K], out[:, K:2 * K], out[:, 2 * K:]
    log_scales = torch.clamp(log_scales, min=log_scale_min)
    y = target.view(-1, 1)
    log_p = -0.5 * ((y - means) * torch.exp(-log_scales)) ** 2 - log_scales \
        - 0.5 * math.log(2 * math.pi)
    if logit_probs is None:
        return -log_p[:, 0]
    return -torch.logsumexp(log_p + F.log_softmax(logit_probs, dim=-1), dim=-1)


# -- self-test --------------------------------------------------------------------------

def self_test():
    failures = 0

    def check(name, ok):
        nonlocal failures
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} reference: {name}")

    # splitmix64 from seed 0: the published first output 0xE220A8397B1DCDAF.
    u = UniformSource(0)
    check("splitmix64 first value", u.next() == (0xE220A8397B1DCDAF >> 11) * 2.0 ** -53)
    hp = dict(input_type="raw", out_channels=6, layers=4, stacks=2, residual_channels=4,
              gate_channels=6, skip_out_channels=5, kernel_size=3, cin_channels=3,
              gin_channels=-1, upsample_conditional_features=True,
              upsample_net="ConvInUpsampleNetwork", upsample_params={"upsample_scales": [2, 3]},
              cin_pad=1)
    torch.manual_seed(0)
    model = WaveNetVocoder(hp).double().eval()
    feats = np.random.default_rng(0).standard_normal((5, 3))
    x = np.random.default_rng(1).uniform(-1, 1, 30)
    with torch.no_grad():
        full = model(x, feats)
        # Causality: changing sample 20 leaves rows 0..19 unchanged.
        y = x.copy()
        y[20] = 0.5
        other = model(y, feats)
    check("output shape", tuple(full.shape) == (30, 6))
    check("causal", torch.equal(full[:20], other[:20]) and not torch.equal(full[20:], other[20:]))
    nll = logistic_mixture_nll(full[:-1, :], torch.as_tensor(x[1:]))
    check("logistic NLL finite", bool(torch.all(torch.isfinite(nll))))
    code, value = sample_code(full[0].numpy(), "logistic_mixture", 2, 1.0, UniformSource(3))
    check("sampled code in range", 0 <= code < 65536 and -1 <= value <= 1)
    old = dict(input_type="raw", out_channels=6, layers=4, stacks=2, residual_channels=4,
               gate_channels=6, skip_out_channels=5, kernel_size=3, cin_channels=3,
               gin_channels=2, n_speakers=3, upsample_conditional_features=True,
               upsample_scales=[2, 3], freq_axis_kernel_size=3, legacy=True)
    model = WaveNetVocoder(old, "2018").double().eval()
    names = set(model.state_dict())
    check("2018 names: upsample_conv.0/.2, conditioning biases",
          {"upsample_conv.0.weight_v", "upsample_conv.2.bias", "conv_layers.0.conv1x1c.bias",
           "conv_layers.3.conv1x1g.bias"} <= names and "upsample_conv.1.bias" not in names)
    with torch.no_grad():
        full, other = model(x, feats, 1), model(y, feats, 1)
    check("2018 output shape", tuple(full.shape) == (30, 6))
    check("2018 causal", torch.equal(full[:20], other[:20]) and not torch.equal(full[20:], other[20:]))
    return failures


if __name__ == "__main__":
    sys.exit(1 if self_test() else 0)
