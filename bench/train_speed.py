#!/usr/bin/python3
"""Baseline for `fastwave train`: one pytorch-wavenet-style training step, timed.

The model and step follow vincentherrmann/pytorch-wavenet (one-hot input, 1x1 start
conv, separate filter/gate convs, skip convs on every position, end convs on the last
output_length positions, cross-entropy, Adam), except that the dilated convs are
plain Conv1d(dilation=d) "valid" convs instead of its dilate() reshuffling, which only
makes the baseline faster. Crops are receptive_field + output_length - 1 samples
(5116 for the default config). Prints one line: "baseline_targets_per_s <float>".
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class WaveNet(nn.Module):
    def __init__(self, blocks, layers, residual, dilation, skip, end, classes, kernel):
        super().__init__()
        self.dilations = [2 ** i for _ in range(blocks) for i in range(layers)]
        self.kernel = kernel
        self.start_conv = nn.Conv1d(classes, residual, 1, bias=False)

        def convs(cin, cout, k):
            return nn.ModuleList(nn.Conv1d(cin, cout, k, bias=False) for _ in self.dilations)

        self.filter_convs = convs(residual, dilation, kernel)
        self.gate_convs = convs(residual, dilation, kernel)
        self.residual_convs = convs(dilation, residual, 1)
        self.skip_convs = convs(dilation, skip, 1)
        self.end_conv_1 = nn.Conv1d(skip, end, 1)
        self.end_conv_2 = nn.Conv1d(end, classes, 1)
        self.receptive_field = blocks * (kernel - 1) * (2 ** layers - 1) + 1

    def forward(self, one_hot, output_length):
        x = self.start_conv(one_hot)
        skip = 0
        for i, d in enumerate(self.dilations):
            residual = x
            f = F.conv1d(x, self.filter_convs[i].weight, dilation=d)
            g = F.conv1d(x, self.gate_convs[i].weight, dilation=d)
            x = torch.tanh(f) * torch.sigmoid(g)
            s = self.skip_convs[i](x)  # on every position, as pytorch-wavenet does
            skip = s + (skip[:, :, -s.size(2):] if torch.is_tensor(skip) else 0)
            x = self.residual_convs[i](x) + residual[:, :, (self.kernel - 1) * d:]
        x = F.relu(self.end_conv_1(F.relu(skip)))
        x = self.end_conv_2(x)[:, :, -output_length:]
        n, c, l = x.shape
        return x.transpose(1, 2).reshape(n * l, c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--layers-per-block", type=int, default=10)
    ap.add_argument("--residual-channels", type=int, default=32)
    ap.add_argument("--dilation-channels", type=int, default=32)
    ap.add_argument("--skip-channels", type=int, default=256)
    ap.add_argument("--end-channels", type=int, default=256)
    ap.add_argument("--classes", type=int, default=256)
    ap.add_argument("--kernel-size", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--output-length", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after 1 warm-up step)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = WaveNet(a.blocks, a.layers_per_block, a.residual_channels, a.dilation_channels,
                    a.skip_channels, a.end_channels, a.classes, a.kernel_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    item_length = model.receptive_field + a.output_length - 1
    # Random ids stand in for audio: the cost of a step does not depend on the data.
    data = torch.randint(0, a.classes, (1 << 20,))

    elapsed = 0.0
    for step in range(a.steps + 1):
        starts = torch.randint(0, data.numel() - item_length - 1, (a.batch,))
        crops = torch.stack([data[s:s + item_length + 1] for s in starts.tolist()])
        t0 = time.perf_counter()
        one_hot = F.one_hot(crops[:, :item_length], a.classes).transpose(1, 2).float()
        target = crops[:, -a.output_length:].reshape(-1)
        loss = F.cross_entropy(model(one_hot, a.output_length), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step > 0:  # the first step pays for allocation and is not counted
            elapsed += time.perf_counter() - t0
    sec_per_step = elapsed / a.steps
    targets = a.batch * a.output_length
    print(f"baseline: {sec_per_step:.3f} s/step, {targets} targets/step, crops {item_length}",
          flush=True)
    print(f"baseline_targets_per_s {targets / sec_per_step:.1f}")


if __name__ == "__main__":
    main()
