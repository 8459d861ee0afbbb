#!/usr/bin/python3
"""fastwave against PyTorch on the same weights, one thread: generation speed and size.

    compare_pytorch.py --fastwave BIN [--model models/violin.fwm] [--workdir DIR]
                       [--naive-samples 8] [--fast-samples 400] [--runs 3] [--layers 4,6,8,10,12]

The float weights of MODEL are loaded into our pytorch-wavenet-style module
(tools/pytorch_wavenet_reference.py), saved with torch.save and converted back with
tools/convert_pytorch_wavenet.py: fastwave runs the converted file, so both sides run the
same weights through the same path a pytorch-wavenet user takes. Measured in PyTorch:

* generate: pytorch-wavenet's generate(), the whole receptive field through the
  training-time forward pass for every sample;
* generate_fast: pytorch-wavenet's generate_fast() idea, one queue of past inputs per
  layer and the Conv1d modules called on one step;
* the same after torch.quantization.quantize_dynamic as the seeds called it: it converts
  nn.Linear (and RNN) modules only, so a Conv1d WaveNet is left as it was;
* generate_fast with every conv written as nn.Linear over its taps (the start conv as a
  row lookup), in float and after quantize_dynamic, which now applies;
* post-training static quantization (eager mode, oneDNN): every Conv1d between a
  QuantStub and a DeQuantStub, observers calibrated on the float model's own generation,
  no retraining.

fastwave is measured by `fastwave bench` (naive and fast, every scheme) on the converted
file. With --layers, also the seeds' generate-against-fast-generate table over depth:
random-init 2 blocks x L layers, the same weights in both. Sizes are those of the saved state_dict (PyTorch) and of the model file (fastwave).
Run it pinned to one core (bench/compare_pytorch.sh does: taskset -c 0).
"""
import argparse
import copy
import io
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections import deque

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import fastwave_format as fwf  # noqa: E402
from pytorch_wavenet_reference import WaveNetModel, one_hot  # noqa: E402

warnings.filterwarnings("ignore")


# -- the model ------------------------------------------------------------------------------

def load_reference(path):
    """Our pytorch-wavenet-style module holding the float weights of a fastwave file."""
    config, tensors = fwf.read_model(path)
    if config["speakers"] or config["local_channels"]:
        raise SystemExit("compare_pytorch.py: use an unconditioned model (pytorch-wavenet has none)")
    model = WaveNetModel(layers=config["layers_per_block"], blocks=config["blocks"],
                         dilation_channels=config["dilation_channels"],
                         residual_channels=config["residual_channels"],
                         skip_channels=config["skip_channels"], end_channels=config["end_channels"],
                         classes=config["classes"], output_length=1,
                         kernel_size=config["kernel_size"], bias=config["bias"])
    model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in tensors.items()})
    return config, model.eval()


def state_dict_bytes(module):
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def sample(logits, generator):
    return int(torch.multinomial(F.softmax(logits.view(-1), 0), 1, generator=generator))


# -- pytorch-wavenet's generate(): the whole receptive field per sample ----------------------

def generate(model, samples, seed):
    rf, silence = model.receptive_field, model.classes // 2
    ids = [silence] * rf
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(samples):
            logits = model(one_hot(ids[-rf:], model.classes))  # [1, classes]: the last position
            ids.append(sample(logits, gen))
    return ids[rf:]


# -- generate_fast(): one queue of past inputs per layer --------------------------------------

class ConvSteps:
    """One step of the network through its Conv1d modules (pytorch-wavenet's generate_fast
    calls its modules on one position at a time in the same way)."""

    def __init__(self, model):
        self.m = model

    def start(self, id_):
        return self.m.start_conv(one_hot([id_], self.m.classes))  # [1, res, 1]

    def taps(self, queue, dilation):
        k = self.m.kernel_size
        return torch.cat([queue[-1 - (k - 1 - j) * dilation] for j in range(k)], dim=2)

    def layer(self, i, taps, x):
        m = self.m
        z = torch.tanh(m.filter_convs[i](taps)) * torch.sigmoid(m.gate_convs[i](taps))
        return m.residual_convs[i](z) + x, m.skip_convs[i](z)

    def end(self, skip):
        return self.m._end(skip).view(-1)

    def zeros(self):
        return torch.zeros(1, self.m.residual_channels, 1)


class LinearSteps(ConvSteps):
    """The same step with every conv as nn.Linear over its taps, on [1, channels] rows,
    so that quantize_dynamic({nn.Linear}) applies to all of it."""

    def __init__(self, model):
        super().__init__(model)
        k, n = model.kernel_size, model.layers * model.blocks

        def linear(conv):
            out, cin, taps = conv.weight.shape
            lin = nn.Linear(cin * taps, out, bias=conv.bias is not None)
            # Input row = [taps..., channels] tap-major, matching torch.cat of tap rows.
            lin.weight.data = conv.weight.data.permute(0, 2, 1).reshape(out, taps * cin).clone()
            if conv.bias is not None:
                lin.bias.data = conv.bias.data.clone()
            return lin

        self.net = nn.Module()
        self.net.filter = nn.ModuleList(linear(c) for c in model.filter_convs)
        self.net.gate = nn.ModuleList(linear(c) for c in model.gate_convs)
        self.net.residual = nn.ModuleList(linear(c) for c in model.residual_convs)
        self.net.skip = nn.ModuleList(linear(c) for c in model.skip_convs)
        self.net.end1, self.net.end2 = linear(model.end_conv_1), linear(model.end_conv_2)
        self.embedding = model.start_conv.weight.data[:, :, 0].t().contiguous()  # [classes, res]
        self.start_bias = model.start_conv.bias.data if model.start_conv.bias is not None else 0
        assert len(self.net.filter) == n and k >= 1

    def start(self, id_):
        return (self.embedding[id_] + self.start_bias).view(1, -1)

    def taps(self, queue, dilation):
        k = self.m.kernel_size
        return torch.cat([queue[-1 - (k - 1 - j) * dilation] for j in range(k)], dim=1)

    def layer(self, i, taps, x):
        n = self.net
        z = torch.tanh(n.filter[i](taps)) * torch.sigmoid(n.gate[i](taps))
        return n.residual[i](z) + x, n.skip[i](z)

    def end(self, skip):
        return self.net.end2(F.relu(self.net.end1(F.relu(skip)))).view(-1)

    def zeros(self):
        return torch.zeros(1, self.m.residual_channels)


def generate_fast(steps, samples, seed, forced=None, logits_out=None):
    """Samples `samples` ids after one silence id; with `forced`, feeds those ids instead of
    sampling and keeps each step's logits in `logits_out` (for the self-check)."""
    m = steps.m
    queues = [deque([steps.zeros()] * ((m.kernel_size - 1) * d + 1), maxlen=(m.kernel_size - 1) * d + 1)
              for d, _ in m.dilations]
    gen = torch.Generator().manual_seed(seed)
    next_id, out = m.classes // 2, []
    with torch.no_grad():
        for t in range(samples):
            x, skip = steps.start(next_id), 0
            for i, (dilation, _) in enumerate(m.dilations):
                queues[i].append(x)
                x, s = steps.layer(i, steps.taps(queues[i], dilation), x)
                skip = skip + s
            logits = steps.end(skip)
            if forced is not None:
                logits_out.append(logits)
                next_id = forced[t + 1]
            else:
                next_id = sample(logits, gen)
                out.append(next_id)
    return out


def fast_path_error(steps, model, ids):
    """A fast path against the reference forward pass, fed the same ids: checks the queues
    and shows what quantization changes. Returns a note with the largest logit difference
    and the mean KL(reference || this) in nats, the measure `fastwave eval --ref` reports."""
    got = []
    generate_fast(steps, len(ids) - 1, 0, forced=ids, logits_out=got)
    with torch.no_grad():
        want = model.logits_all_positions(torch.tensor(ids[:-1]))
        got = torch.stack(got)
        kl = (F.softmax(want, 1) * (F.log_softmax(want, 1) - F.log_softmax(got, 1))).sum(1).mean().item()
    return f"max logit error {(got - want).abs().max().item():.1e}, mean KL {kl:.5f} nats"


# -- quantization ---------------------------------------------------------------------------

def count_quantized(module):
    """Modules whose weights are now quantized (not counting their packed-params holders)."""
    return sum(1 for sub in module.modules()
               if "quantized" in type(sub).__module__ and hasattr(sub, "weight") and callable(sub.weight))


class Stubbed(nn.Module):
    """A float module between a QuantStub and a DeQuantStub: eager-mode static
    quantization then runs the module on int8 with calibrated activation scales."""

    def __init__(self, module):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.module = module
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.module(self.quant(x)))


def static_quantized(model, calibration_samples):
    """Post-training static quantization of every Conv1d (no retraining): stubs, observers
    calibrated on the float model's own generation, convert."""
    q = copy.deepcopy(model)
    for name in ("filter_convs", "gate_convs", "residual_convs", "skip_convs"):
        setattr(q, name, nn.ModuleList(Stubbed(c) for c in getattr(q, name)))
    q.end_conv_1, q.end_conv_2 = Stubbed(q.end_conv_1), Stubbed(q.end_conv_2)
    q.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
    q.start_conv.qconfig = None  # its input is one-hot; the seeds kept it float too
    prepared = torch.ao.quantization.prepare(q.eval())
    generate_fast(ConvSteps(prepared), calibration_samples, seed=7)
    return torch.ao.quantization.convert(prepared)


# -- fastwave -------------------------------------------------------------------------------

def convert(model, workdir, name, sample_rate=16000):
    """torch.save(state_dict) -> tools/convert_pytorch_wavenet.py -> a fastwave file; returns
    its path and the seconds the converter took."""
    checkpoint, converted = os.path.join(workdir, name + ".pt"), os.path.join(workdir, name + ".fwm")
    torch.save(model.state_dict(), checkpoint)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_pytorch_wavenet.py"), checkpoint, converted,
                    "--layers-per-block", str(model.layers), "--sample-rate", str(sample_rate)],
                   check=True, stdout=subprocess.DEVNULL)
    return converted, time.perf_counter() - t0


def fastwave_bench(binary, model, json_path, *options):
    """Rows of `fastwave bench -m model options...`."""
    subprocess.run([binary, "bench", "-m", model, *options, "--json", json_path], check=True,
                   stdout=subprocess.DEVNULL)
    with open(json_path) as f:
        return json.load(f)


def depth_sweep(args, layers):
    """The seeds' generate against fast_generate table, over depth: random-init 2 blocks x L
    layers (default channels), the same weights in PyTorch and (converted) in fastwave."""
    print()
    print("depth sweep: random-init 2 blocks x L layers, 32/32/256/256 channels; samples/s, one thread")
    print("| L | receptive field | PyTorch generate | PyTorch generate_fast | fast / generate | "
          "fastwave naive | fastwave fast | fast / naive | fastwave fast / PyTorch generate_fast |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    out = []
    for L in layers:
        torch.manual_seed(L)
        model = WaveNetModel(layers=L, blocks=2, output_length=1).eval()
        path, _ = convert(model, args.workdir, f"layers{L}")
        gen = timed(lambda n, s: generate(model, n, s), args.runs, args.naive_samples)
        steps = ConvSteps(model)
        fast = timed(lambda n, s: generate_fast(steps, n, s), args.runs, args.fast_samples)
        fw = fastwave_bench(args.fastwave, path, os.path.join(args.workdir, f"layers{L}.json"), "--methods",
                            "fast,naive", "--naive-samples", str(args.naive_samples), "-n", "8000", "--runs",
                            str(args.runs))
        fw = {r["method"]: r["samples_per_second_mean"] for r in fw}
        print(f"| {L} | {model.receptive_field} | {gen[0]:,.1f} | {fast[0]:,.1f} | {fast[0] / gen[0]:,.1f}x | "
              f"{fw['naive']:,.1f} | {fw['fast']:,.0f} | {fw['fast'] / fw['naive']:,.0f}x | "
              f"{fw['fast'] / fast[0]:,.0f}x |", flush=True)
        out.append(dict(layers_per_block=L, receptive_field=model.receptive_field, pytorch_generate=gen[0],
                        pytorch_generate_fast=fast[0], fastwave_naive=fw["naive"], fastwave_fast=fw["fast"]))
    return out


# -- timing ---------------------------------------------------------------------------------

def timed(run, runs, samples, seconds=2.0):
    """Mean and sd of samples/s over `runs` calls after a warm-up; each call makes at most
    `samples` samples, fewer if that would take much more than `seconds` (the slowest
    PyTorch variants run at a few samples/s). Returns (mean, sd, samples per run)."""
    warm = max(2, samples // 20)
    t0 = time.perf_counter()
    run(warm, 100)
    estimate = warm / (time.perf_counter() - t0)
    n = max(2, min(samples, int(estimate * seconds)))
    rates = []
    for r in range(runs):
        t0 = time.perf_counter()
        run(n, r)
        rates.append(n / (time.perf_counter() - t0))
    mean = sum(rates) / len(rates)
    sd = math.sqrt(sum((x - mean) ** 2 for x in rates) / max(1, len(rates) - 1))
    return mean, sd, n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastwave", required=True, help="the fastwave binary")
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "violin.fwm"))
    parser.add_argument("--workdir", default="build/compare_pytorch")
    parser.add_argument("--naive-samples", type=int, default=8, help="samples per run of the full-receptive-field methods")
    parser.add_argument("--fast-samples", type=int, default=400, help="samples per run of PyTorch's queue methods")
    parser.add_argument("--fastwave-samples", type=int, default=16000, help="samples per run of fastwave fast")
    parser.add_argument("--calibration-samples", type=int, default=100,
                        help="samples the float model generates to calibrate PyTorch static quantization")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", help="also sweep depth: random 2 x L models for these L, e.g. 4,6,8,10,12")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, quantized engine "
          f"{torch.backends.quantized.engine}; CPU affinity {sorted(os.sched_getaffinity(0))}")

    config, model = load_reference(args.model)
    converted, convert_seconds = convert(model, args.workdir, "model", config["sample_rate"])
    print(f"model {args.model}: {config['blocks']} blocks x {config['layers_per_block']} layers, receptive field "
          f"{model.receptive_field}; torch.save {state_dict_bytes(model)} bytes -> converter -> {converted} "
          f"({os.path.getsize(converted)} bytes) in {convert_seconds:.2f} s")

    rows = []  # (implementation, method, form, mean, sd, bytes, quantize seconds, modules quantized)

    def add(impl, method, form, rate, size, qsec=None, note=""):
        rows.append(dict(implementation=impl, method=method, form=form, samples_per_second_mean=rate[0],
                         samples_per_second_sd=rate[1], samples=rate[2], bytes=size, quantize_seconds=qsec,
                         note=note))
        print(f"  {impl:8s} {method:14s} {form:36s} {rate[0]:10.1f} ± {rate[1]:<8.1f} samples/s ({args.runs} runs of "
              f"{rate[2]}) {size / 1e6:6.2f} MB {note}", flush=True)

    print("measuring (one warm-up, then mean ± sd of the runs):")
    f32_bytes = state_dict_bytes(model)
    add("pytorch", "generate", "Conv1d f32", timed(lambda n, s: generate(model, n, s), args.runs, args.naive_samples),
        f32_bytes)
    conv = ConvSteps(model)
    # The ids the error checks are fed: what the float model itself generates (the kind of
    # input quantization is calibrated for), after one silence id.
    check_ids = [model.classes // 2] + generate_fast(conv, 256, seed=11)
    err = fast_path_error(conv, model, check_ids)
    add("pytorch", "generate_fast", "Conv1d f32",
        timed(lambda n, s: generate_fast(conv, n, s), args.runs, args.fast_samples), f32_bytes,
        note=f"({err})")

    t0 = time.perf_counter()
    dynamic = torch.ao.quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8)
    dyn_sec = time.perf_counter() - t0
    dyn_steps = ConvSteps(dynamic)
    add("pytorch", "generate_fast", "Conv1d, quantize_dynamic (seeds)",
        timed(lambda n, s: generate_fast(dyn_steps, n, s), args.runs, args.fast_samples), state_dict_bytes(dynamic),
        dyn_sec, note=f"({count_quantized(dynamic)} modules quantized)")

    lin = LinearSteps(model)
    err = fast_path_error(lin, model, check_ids)
    add("pytorch", "generate_fast", "Linear f32",
        timed(lambda n, s: generate_fast(lin, n, s), args.runs, args.fast_samples), state_dict_bytes(lin.net),
        note=f"({err})")
    t0 = time.perf_counter()
    lin_q = copy.copy(lin)
    lin_q.net = torch.ao.quantization.quantize_dynamic(lin.net, {nn.Linear}, dtype=torch.qint8)
    lin_sec = time.perf_counter() - t0
    err = fast_path_error(lin_q, model, check_ids)
    add("pytorch", "generate_fast", "Linear, quantize_dynamic int8",
        timed(lambda n, s: generate_fast(lin_q, n, s), args.runs, args.fast_samples), state_dict_bytes(lin_q.net),
        lin_sec, note=f"({count_quantized(lin_q.net)} modules quantized; {err})")

    t0 = time.perf_counter()
    static = static_quantized(model, calibration_samples=args.calibration_samples)
    static_sec = time.perf_counter() - t0
    static_steps = ConvSteps(static)
    err = fast_path_error(static_steps, model, check_ids)
    add("pytorch", "generate_fast", "Conv1d, static int8 (stubs, onednn)",
        timed(lambda n, s: generate_fast(static_steps, n, s), args.runs, args.fast_samples),
        state_dict_bytes(static), static_sec,
        note=f"({count_quantized(static)} modules quantized; calibrated on {args.calibration_samples} samples; "
             f"{err})")

    for r in fastwave_bench(args.fastwave, converted, os.path.join(args.workdir, "fastwave.json"), "--schemes",
                            "f32,bf16,int8-dynamic,int8-static,int4", "--methods", "fast,naive", "--naive-samples",
                            str(args.naive_samples), "-n", str(args.fastwave_samples), "--runs", str(args.runs)):
        add("fastwave", "naive" if r["method"] == "naive" else "fast", f"{r['scheme']} ({r['isa']})",
            (r["samples_per_second_mean"], r["samples_per_second_sd"], r["samples"]), r["model_file_bytes"],
            r["quantize_seconds"])

    base_gen = rows[0]["samples_per_second_mean"]
    base_fast = rows[1]["samples_per_second_mean"]
    best_torch = max(r["samples_per_second_mean"] for r in rows if r["implementation"] == "pytorch")
    print()
    print("| implementation | method | weights | samples/s (mean ± sd) | samples per run | size | vs PyTorch generate | "
          "vs PyTorch generate_fast f32 | vs fastest PyTorch |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        rate = r["samples_per_second_mean"]
        print(f"| {r['implementation']} | {r['method']} | {r['form']} | {rate:,.1f} ± {r['samples_per_second_sd']:,.1f} | "
              f"{r['samples']} | {r['bytes'] / 1e6:.2f} MB | {rate / base_gen:,.1f}x | {rate / base_fast:,.2f}x | {rate / best_torch:,.2f}x |")
    print()

    def rate(impl, method, form):
        return next(r["samples_per_second_mean"] for r in rows
                    if (r["implementation"], r["method"], r["form"].split(" (")[0]) == (impl, method, form))

    best_fw = max(r["samples_per_second_mean"] for r in rows if r["implementation"] == "fastwave")
    print(f"same algorithm, f32: fastwave naive / PyTorch generate: "
          f"{rate('fastwave', 'naive', 'f32') / rate('pytorch', 'generate', 'Conv1d f32'):.2f}x; "
          f"fastwave fast / PyTorch generate_fast: "
          f"{rate('fastwave', 'fast', 'f32') / rate('pytorch', 'generate_fast', 'Conv1d f32'):.1f}x")
    print(f"fastest fastwave / fastest PyTorch: {best_fw / best_torch:.1f}x; "
          f"fastest fastwave / PyTorch generate: {best_fw / base_gen:,.0f}x")
    print(f"PyTorch quantize_dynamic on the Conv1d model (as the seeds used it): {count_quantized(dynamic)} modules "
          f"quantized, state_dict {f32_bytes} -> {state_dict_bytes(dynamic)} bytes")
    for r in rows:
        if r["note"]:
            print(f"{r['implementation']} {r['method']}, {r['form']}: {r['note'].strip('()')}")
    print(f"conversion (torch.save state_dict -> fastwave file, converter run): {convert_seconds:.2f} s")
    seen = set()
    for r in rows:
        key = (r["implementation"], r["form"])
        if r["quantize_seconds"] is not None and key not in seen:
            seen.add(key)
            print(f"time to quantize, {r['implementation']} {r['form']}: {r['quantize_seconds']:.3f} s")
    depth = depth_sweep(args, [int(x) for x in args.layers.split(",")]) if args.layers else []
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(convert_seconds=convert_seconds, rows=rows, depth=depth), f, indent=2)


if __name__ == "__main__":
    main()
