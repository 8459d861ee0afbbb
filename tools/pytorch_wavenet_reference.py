#!/usr/bin/python3
"""Our own re-implementation of pytorch-wavenet's WaveNetModel (vincentherrmann), used as
the PyTorch oracle for fastwave.

* The module has pytorch-wavenet's constructor arguments and state_dict() names, so its
  checkpoints look exactly like pytorch-wavenet's (tools/convert_pytorch_wavenet.py).
* forward() is pytorch-wavenet's training-time forward pass, including its dilate()
  trick: instead of dilated convolutions it folds time into the batch dimension so that
  every dilated conv becomes an undilated one, zero-padding the *start* whenever the
  length is not a multiple of the dilation. Convolutions are valid (unpadded), so only
  outputs at least receptive_field-1 positions into the input are meaningful.
* logits_all_positions() is the semantics of docs/model-format.md: dilated convolutions
  with causal zero padding at every layer, one row of logits per input position.
  From position receptive_field-1 on, both agree (checked by self_test()).

Added to pytorch-wavenet (which has no conditioning): optional global conditioning
(speaker embedding) and local conditioning (frame features), as in the doc.

Run this file to execute the self-test.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def dilate(x, dilation, init_dilation=1):
    """pytorch-wavenet's reshuffle of [n, c, l] at init_dilation into [n*f, c, l/f] at
    `dilation` (f = dilation/init_dilation; f < 1 undoes it). Batch row r*N + b holds
    samples r, r+dilation, r+2*dilation, ... of sequence b. Zero-pads the start so l is a
    multiple of f, which keeps the *last* sample aligned."""
    n, c, length = x.shape
    if dilation == init_dilation:
        return x
    if dilation > init_dilation:
        f = dilation // init_dilation
        pad = -length % f
        x = F.pad(x, (pad, 0))
        new_n, new_length = n * f, (length + pad) // f
    else:
        f = init_dilation // dilation
        new_n, new_length = n // f, length * f
    # (n, c, l) -> (c, l, n): in this layout time and batch are one contiguous axis that
    # can be re-split with a different batch size.
    x = x.permute(1, 2, 0).contiguous().view(c, new_length, new_n)
    return x.permute(2, 0, 1).contiguous()


def one_hot(ids, classes, dtype=torch.float32):
    """[N, L] (or [L]) ids -> [N, classes, L] one-hot, pytorch-wavenet's input format."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() == 1:
        ids = ids.unsqueeze(0)
    return F.one_hot(ids, classes).to(dtype).transpose(1, 2).contiguous()


class WaveNetModel(nn.Module):
    def __init__(self, layers=10, blocks=4, dilation_channels=32, residual_channels=32,
                 skip_channels=256, end_channels=256, classes=256, output_length=32,
                 kernel_size=2, bias=False, speakers=0, global_channels=0,
                 local_channels=0, local_hop=0):
        super().__init__()
        self.layers, self.blocks = layers, blocks
        self.dilation_channels, self.residual_channels = dilation_channels, residual_channels
        self.skip_channels, self.end_channels = skip_channels, end_channels
        self.classes, self.output_length = classes, output_length
        self.kernel_size, self.use_bias = kernel_size, bias
        self.speakers, self.global_channels = speakers, global_channels
        self.local_channels, self.local_hop = local_channels, local_hop

        # (dilation, dilation of the previous layer), as pytorch-wavenet keeps them:
        # forward() reshuffles from the previous layer's dilation to this one's.
        self.dilations = []
        init_dilation = 1
        for _ in range(blocks):
            for i in range(layers):
                self.dilations.append((2 ** i, init_dilation))
                init_dilation = 2 ** i
        self.receptive_field = blocks * (kernel_size - 1) * (2 ** layers - 1) + 1

        def conv(cin, cout, k=1, b=bias):
            return nn.Conv1d(cin, cout, kernel_size=k, bias=b)

        n = layers * blocks
        self.start_conv = conv(classes, residual_channels)
        self.filter_convs = nn.ModuleList(
            conv(residual_channels, dilation_channels, kernel_size) for _ in range(n))
        self.gate_convs = nn.ModuleList(
            conv(residual_channels, dilation_channels, kernel_size) for _ in range(n))
        self.residual_convs = nn.ModuleList(
            conv(dilation_channels, residual_channels) for _ in range(n))
        self.skip_convs = nn.ModuleList(conv(dilation_channels, skip_channels) for _ in range(n))
        self.end_conv_1 = conv(skip_channels, end_channels, b=True)
        self.end_conv_2 = conv(end_channels, classes, b=True)
        if speakers > 0:
            self.global_embedding = nn.Embedding(speakers, global_channels)
            self.global_filter_convs = nn.ModuleList(
                conv(global_channels, dilation_channels, b=False) for _ in range(n))
            self.global_gate_convs = nn.ModuleList(
                conv(global_channels, dilation_channels, b=False) for _ in range(n))
        if local_channels > 0:
            self.local_filter_convs = nn.ModuleList(
                conv(local_channels, dilation_channels, b=False) for _ in range(n))
            self.local_gate_convs = nn.ModuleList(
                conv(local_channels, dilation_channels, b=False) for _ in range(n))

    # -- conditioning helpers ------------------------------------------------------------

    def _global(self, i, speaker):
        """Per-layer speaker terms [N, dilation_channels, 1] (zeros without conditioning)."""
        if self.speakers == 0:
            return 0, 0
        if speaker is None:
            raise ValueError("this model needs a speaker id")
        e = self.global_embedding(torch.as_tensor(speaker).long().view(-1)).unsqueeze(-1)
        return self.global_filter_convs[i](e), self.global_gate_convs[i](e)

    def _upsample(self, features, length):
        """[N, local_channels, frames] -> [N, local_channels, length]: frame f covers
        samples [f*local_hop, (f+1)*local_hop)."""
        if features is None:
            raise ValueError("this model needs local features")
        if features.shape[-1] * self.local_hop < length:
            raise ValueError(f"{features.shape[-1]} feature frames cover fewer than {length} samples")
        return features.repeat_interleave(self.local_hop, dim=-1)[..., :length]

    def _end(self, skip):
        return self.end_conv_2(F.relu(self.end_conv_1(F.relu(skip))))

    # -- pytorch-wavenet's forward pass ----------------------------------------------------

    def forward(self, input, speaker=None, features=None):
        """input: one-hot [N, classes, L]; speaker: [N] ids; features: [N, local_channels,
        frames]. Returns the logits of the last output_length positions as
        [N*output_length, classes] (sequence-major), like pytorch-wavenet. Position t
        predicts sample t+1; only positions >= receptive_field-1 are valid, so L must be
        at least receptive_field + output_length - 1."""
        batch, length = input.shape[0], input.shape[2]
        local = self._upsample(features, length) if self.local_channels else None
        x = self.start_conv(input)
        skip = None
        for i, (dilation, init_dilation) in enumerate(self.dilations):
            residual = dilate(x, dilation, init_dilation)
            f = self.filter_convs[i](residual)
            g = self.gate_convs[i](residual)
            # Conditioning, laid out like `residual`: batch row r*N + b is sequence b.
            gf, gg = self._global(i, speaker)
            if self.speakers:
                f, g = f + gf.repeat(dilation, 1, 1), g + gg.repeat(dilation, 1, 1)
            if local is not None:
                # x spans the last `samples` input positions (plus any start padding that
                # earlier dilate() calls added); line the features up with it, then
                # reshuffle them the same way. Output j of the valid conv sits at the
                # last tap, i.e. residual position j + kernel_size - 1.
                samples = x.shape[0] // batch * x.shape[2]
                c = local[..., -samples:]
                c = F.pad(c, (samples - c.shape[-1], 0))
                c = dilate(c, dilation, 1)[..., self.kernel_size - 1:]
                f = f + self.local_filter_convs[i](c)
                g = g + self.local_gate_convs[i](c)
            z = torch.tanh(f) * torch.sigmoid(g)
            # pytorch-wavenet skips this when z has length 1, which mixes up the batch
            # when dilation > 1; we always undo the reshuffle.
            s = self.skip_convs[i](dilate(z, 1, dilation))
            skip = s if skip is None else s + skip[:, :, -s.shape[2]:]
            x = self.residual_convs[i](z) + residual[:, :, self.kernel_size - 1:]
        out = self._end(skip)
        n, c, _ = out.shape
        out = out[:, :, -self.output_length:]
        return out.transpose(1, 2).contiguous().view(n * self.output_length, c)

    # -- docs/model-format.md semantics ------------------------------------------------------

    def logits_all_positions(self, ids, speaker=None, features=None):
        """ids: [T] µ-law ids; speaker: an id; features: [frames, local_channels].
        Returns [T, classes]: row t predicts ids[t+1] from ids[0..t], with causal zero
        padding before time 0 at every layer."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        dtype = self.start_conv.weight.dtype
        x = self.start_conv(one_hot(ids, self.classes, dtype))
        length = x.shape[2]
        local = None
        if self.local_channels:
            features = torch.as_tensor(features, dtype=dtype).t().unsqueeze(0)
            local = self._upsample(features, length)
        skip = 0
        for i, (dilation, _) in enumerate(self.dilations):
            padded = F.pad(x, ((self.kernel_size - 1) * dilation, 0))  # zeros before t=0
            conv_f, conv_g = self.filter_convs[i], self.gate_convs[i]
            f = F.conv1d(padded, conv_f.weight, conv_f.bias, dilation=dilation)
            g = F.conv1d(padded, conv_g.weight, conv_g.bias, dilation=dilation)
            gf, gg = self._global(i, None if speaker is None else [speaker])
            f, g = f + gf, g + gg
            if local is not None:
                f = f + self.local_filter_convs[i](local)
                g = g + self.local_gate_convs[i](local)
            z = torch.tanh(f) * torch.sigmoid(g)
            skip = skip + self.skip_convs[i](z)
            x = self.residual_convs[i](z) + x
        return self._end(skip)[0].t()


def self_test(verbose=True):
    """forward() and logits_all_positions() agree on every valid position, for batches,
    odd lengths, kernel sizes 2 and 3, biases and both kinds of conditioning. Returns the
    number of failures."""
    cases = [
        dict(layers=4, blocks=2, residual_channels=8, dilation_channels=12, skip_channels=16,
             end_channels=20, classes=32),
        dict(layers=3, blocks=3, residual_channels=8, dilation_channels=8, skip_channels=8,
             end_channels=8, classes=16, bias=True, kernel_size=3),
        dict(layers=5, blocks=1, residual_channels=6, dilation_channels=10, skip_channels=12,
             end_channels=14, classes=24, bias=True, speakers=3, global_channels=5,
             local_channels=4, local_hop=7),
        dict(layers=4, blocks=2, residual_channels=8, dilation_channels=8, skip_channels=8,
             end_channels=8, classes=16, kernel_size=3, local_channels=3, local_hop=5),
    ]
    failures = 0
    gen = torch.Generator().manual_seed(1234)
    for number, case in enumerate(cases):
        torch.manual_seed(number)
        model = WaveNetModel(**case).double()
        rf, worst = model.receptive_field, 0.0
        for extra in (0, 1, 5, 37):  # valid outputs beyond the first; most lengths pad
            batch, length = 2, rf + extra
            model.output_length = extra + 1
            ids = torch.randint(0, model.classes, (batch, length), generator=gen)
            speaker = torch.randint(0, max(model.speakers, 1), (batch,), generator=gen)
            frames = -(-length // max(model.local_hop, 1)) + 1
            feats = torch.randn(batch, max(model.local_channels, 1), frames, generator=gen,
                                dtype=torch.float64)
            with torch.no_grad():
                out = model(one_hot(ids, model.classes, torch.float64),
                            speaker if model.speakers else None,
                            feats if model.local_channels else None)
                out = out.view(batch, model.output_length, model.classes)
                for b in range(batch):
                    full = model.logits_all_positions(
                        ids[b], int(speaker[b]) if model.speakers else None,
                        feats[b].t() if model.local_channels else None)
                    worst = max(worst, (out[b] - full[rf - 1:]).abs().max().item())
        ok = worst < 1e-9
        failures += not ok
        if verbose or not ok:
            print(f"reference self-test {number}: max |forward - all_positions| = {worst:.2e}"
                  f" {'ok' if ok else 'FAIL'}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if self_test() else 0)
