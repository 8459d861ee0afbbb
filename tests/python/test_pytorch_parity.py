#!/usr/bin/python3
"""Parity of fastwave with pytorch-wavenet, end to end:

  reference model (tools/pytorch_wavenet_reference.py) -> torch.save(state_dict)
  -> tools/convert_pytorch_wavenet.py -> .fwm -> `fastwave eval --logits-out`
  -> compared with the reference's logits at every position.

Also: the converter's error handling, the model file round trip, and an independent
numpy transcription of the formulas in docs/model-format.md.

    test_pytorch_parity.py --fastwave BUILD/fastwave --workdir DIR
    test_pytorch_parity.py --skip-engine [--workdir DIR]   # no engine binary needed
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import fastwave_format as fwf  # noqa: E402
import pytorch_wavenet_reference as ref  # noqa: E402
from model_format_numpy import doc_logits  # noqa: E402  (next to this script)

PYTHON = "/usr/bin/python3"
CONVERTER = os.path.join(TOOLS, "convert_pytorch_wavenet.py")
ATOL = RTOL = 1e-4

SMALL = dict(blocks=2, layers=4, residual_channels=16, dilation_channels=24,
             skip_channels=32, end_channels=40, classes=256)
CONFIGS = {  # name -> (WaveNetModel kwargs, speaker id for eval)
    "small": (dict(SMALL, bias=False), None),
    "small_bias": (dict(SMALL, bias=True), None),
    "kernel3": (dict(SMALL, kernel_size=3, bias=True, blocks=3, layers=3), None),
    "global": (dict(SMALL, bias=True, speakers=3, global_channels=8), 2),
}

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
    return ok


def run(cmd, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def make_model(seed, **kwargs):
    """A reference model with weights large enough that every tap, bias and conditioning
    term visibly moves the logits (PyTorch's default init leaves them nearly constant)."""
    model = ref.WaveNetModel(**kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "start_conv.weight" or p.dim() == 2:  # one-hot input, embedding
                p.copy_(torch.randn(p.shape, generator=gen))
            elif p.dim() == 3:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1] * p.shape[2]))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
    return model


def config_of(model, sample_rate=16000):
    return fwf.make_config(
        blocks=model.blocks, layers_per_block=model.layers,
        residual_channels=model.residual_channels, dilation_channels=model.dilation_channels,
        skip_channels=model.skip_channels, end_channels=model.end_channels,
        classes=model.classes, kernel_size=model.kernel_size, bias=model.use_bias,
        sample_rate=sample_rate, speakers=model.speakers,
        global_channels=model.global_channels, local_channels=model.local_channels,
        local_hop=model.local_hop)


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def close(a, b):
    return a.shape == b.shape and np.allclose(a, b, atol=ATOL, rtol=RTOL)


# -- model file ---------------------------------------------------------------------------

def test_format_round_trip(workdir, engine):
    config = fwf.make_config(blocks=2, layers_per_block=3, residual_channels=4,
                             dilation_channels=5, skip_channels=6, end_channels=7, classes=8,
                             kernel_size=3, bias=True, sample_rate=8000, speakers=2,
                             global_channels=3, local_channels=2, local_hop=4)
    rng = np.random.default_rng(0)
    tensors = {n: rng.standard_normal(s).astype(np.float32)
               for n, s in fwf.expected_tensors(config).items()}
    path = os.path.join(workdir, "round_trip.fwm")
    fwf.write_model(path, config, tensors)
    config2, tensors2 = fwf.read_model(path)
    check("format: config round trip", config2 == config)
    check("format: tensors round trip bit-exact", tensors2.keys() == tensors.keys() and all(
        np.array_equal(tensors[n], tensors2[n]) for n in tensors))

    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__")
    check("format: header padded with spaces so 8+N is a multiple of 64",
          (8 + n) % 64 == 0 and data[8:8 + n].decode().rstrip(" ").endswith("}"))
    check("format: metadata", meta["format"] == "fastwave" and meta["format_version"] == "1"
          and list(json.loads(meta["config"])) == list(fwf.DEFAULT_CONFIG))
    spans = [header[name]["data_offsets"] for name in fwf.expected_tensors(config)]
    check("format: tensors contiguous in file order",
          spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
          and spans[-1][1] == len(data) - 8 - n)

    def rejected(mutate, expect):
        try:
            mutate()
        except fwf.FormatError as e:
            return expect in str(e)
        return False
    bad = dict(tensors, **{"gate_convs.1.weight": np.full((5, 4, 3), np.nan, np.float32)})
    out = os.path.join(workdir, "rejected.fwm")
    check("format: write rejects NaN", rejected(lambda: fwf.write_model(out, config, bad),
                                                "non-finite") and not os.path.exists(out))
    short = {k: v for k, v in tensors.items() if k != "local_gate_convs.5.weight"}
    check("format: write rejects a missing tensor",
          rejected(lambda: fwf.write_model(out, config, short), "missing tensor"))
    wrong = dict(tensors, **{"start_conv.weight": np.zeros((4, 8, 2), np.float32)})
    check("format: write rejects a wrong shape",
          rejected(lambda: fwf.write_model(out, config, wrong), "has shape"))
    check("format: unknown config key rejected",
          rejected(lambda: fwf.make_config(dilation_rate=2), "unknown config key"))
    for label, blob, expect in [
            ("truncated", data[:-4], "data_offsets"),
            ("trailing bytes", data + b"\0" * 4, "trailing"),
            ("version 2", data.replace(b'"format_version":"1"', b'"format_version":"2"'),
             "format_version")]:
        with open(out, "wb") as f:
            f.write(blob)
        check(f"format: read rejects {label}", rejected(lambda: fwf.read_model(out), expect))

    # Pre-emphasis: one optional key, written only when not 0, read back by the engine.
    emphasised = dict(config, preemphasis=0.85)
    fwf.check_config(emphasised)
    path = os.path.join(workdir, "emphasised.fwm")
    fwf.write_model(path, emphasised, tensors)
    back, _ = fwf.read_model(path)
    check("format: preemphasis round trip", back == emphasised and back["preemphasis"] == 0.85)
    check("format: preemphasis 0 is not written", '"preemphasis"' not in fwf.config_json(config))
    check("format: preemphasis outside [0, 1) rejected",
          rejected(lambda: fwf.make_config(preemphasis=1.0), "preemphasis"))
    if engine is not None:
        info = run([engine, "info", path])
        check("format: the engine reads a preemphasis file", info.returncode == 0 and "0.85" in info.stdout,
              info.stderr.strip())


# -- reference and converter --------------------------------------------------------------

def convert(checkpoint, out, *extra):
    return run([PYTHON, CONVERTER, checkpoint, out, *extra])


def test_config(name, kwargs, speaker, workdir, engine):
    model = make_model(sum(map(ord, name)), **kwargs)  # deterministic seed
    rf = model.receptive_field
    checkpoint = os.path.join(workdir, f"{name}.pt")
    out = os.path.join(workdir, f"{name}.fwm")
    torch.save(model.state_dict(), checkpoint)
    r = convert(checkpoint, out, "--layers-per-block", str(model.layers), "--sample-rate", "22050")
    if not check(f"{name}: converter succeeds", r.returncode == 0, r.stderr.strip()):
        return
    config, tensors = fwf.read_model(out)
    check(f"{name}: inferred config", config == config_of(model, 22050),
          f"{config} != {config_of(model, 22050)}")
    check(f"{name}: tensors copied exactly", all(
        np.array_equal(v.numpy(), tensors[k]) for k, v in model.state_dict().items()))

    rng = np.random.default_rng(len(name))
    ids = rng.integers(0, model.classes, 2 * rf + 45)
    ref64 = make_model(0, **kwargs).double()
    ref64.load_state_dict(model.state_dict())
    with torch.no_grad():
        full = ref64.logits_all_positions(ids, speaker).numpy()[:-1]  # last row predicts nothing
        ref64.output_length = len(ids) - 1 - rf + 1  # every valid position of ids[:-1]
        spk = None if speaker is None else torch.tensor([speaker])
        valid = ref64(ref.one_hot(ids[:-1], model.classes, torch.float64), spk).numpy()
    check(f"{name}: pytorch-wavenet forward == all-positions from receptive_field-1",
          max_err(valid, full[rf - 1:]) < 1e-9, f"max error {max_err(valid, full[rf - 1:])}")
    doc = doc_logits(config, tensors, ids, speaker)[:-1]
    check(f"{name}: doc formulas on the converted file == reference",
          max_err(doc, full) < 1e-9, f"max error {max_err(doc, full)}")
    # Rows before receptive_field-1 differ from what a longer history gives, so the
    # engine's zero padding is really tested (the effect fades towards rf-1).
    longer = ref64.logits_all_positions(np.concatenate([[7], ids]), speaker).numpy()
    check(f"{name}: early rows depend on the zero padding (test is sensitive)",
          max_err(full[:rf - 1], longer[1:rf]) > 0.1)
    if engine is None:
        return

    ids_path = os.path.join(workdir, f"{name}.ids")
    with open(ids_path, "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    logits_path = os.path.join(workdir, f"{name}.logits.npy")
    cmd = [engine, "eval", "-m", out, "--ids", ids_path, "--logits-out", logits_path]
    if speaker is not None:
        cmd += ["--speaker", str(speaker)]
    r = run(cmd)
    if not check(f"{name}: fastwave eval succeeds", r.returncode == 0,
                 (r.stderr or r.stdout).strip()[-500:]):
        return
    got = np.load(logits_path)
    if not check(f"{name}: engine logits are float32 [{len(ids) - 1}, {model.classes}]",
                 got.dtype == np.float32 and got.shape == full.shape, f"{got.dtype} {got.shape}"):
        return
    check(f"{name}: engine == causal-padded reference at all {len(full)} rows",
          close(got, full), f"max error {max_err(got, full)}")
    check(f"{name}: engine == pytorch-wavenet forward on {len(valid)} valid rows",
          close(got[rf - 1:], valid), f"max error {max_err(got[rf - 1:], valid)}")


def test_local_conditioning(workdir):
    """No engine flag for features is specified yet, so this stops at the converted file."""
    kwargs = dict(SMALL, bias=True, local_channels=5, local_hop=6, speakers=2, global_channels=4)
    model = make_model(5, **kwargs)
    checkpoint = os.path.join(workdir, "local.pt")
    out = os.path.join(workdir, "local.fwm")
    torch.save(model.state_dict(), checkpoint)
    r = convert(checkpoint, out, "--layers-per-block", "4")
    check("local: converter needs --local-hop", r.returncode == 1 and "--local-hop" in r.stderr)
    r = convert(checkpoint, out, "--layers-per-block", "4", "--local-hop", "6")
    if not check("local: converter succeeds", r.returncode == 0, r.stderr.strip()):
        return
    config, tensors = fwf.read_model(out)
    check("local: inferred config", config == config_of(model))
    rng = np.random.default_rng(9)
    ids = rng.integers(0, model.classes, 2 * model.receptive_field + 10)
    features = rng.standard_normal((len(ids) // 6 + 1, 5))
    with torch.no_grad():
        full = model.double().logits_all_positions(ids, 1, features).numpy()
    local = features[np.arange(len(ids)) // config["local_hop"]]  # frames repeated
    doc = doc_logits(config, tensors, ids, 1, local)
    check("local: doc formulas == reference", max_err(doc, full) < 1e-9,
          f"max error {max_err(doc, full)}")


def expect_error(name, checkpoint, out, *extra, expect=""):
    r = convert(checkpoint, out, *extra)
    lines = r.stderr.strip().splitlines()
    check(f"converter error: {name}",
          r.returncode == 1 and len(lines) == 1 and expect in lines[0]
          and "Traceback" not in r.stderr and not os.path.exists(out),
          f"rc={r.returncode} stderr={r.stderr.strip()!r}")


def test_converter_errors(workdir):
    model = make_model(3, **dict(SMALL, bias=True))
    good = os.path.join(workdir, "err_good.pt")
    torch.save(model.state_dict(), good)
    out = os.path.join(workdir, "err_out.fwm")
    blob = open(good, "rb").read()

    def write(name, data=None, state=None, obj=None):
        path = os.path.join(workdir, name)
        if data is not None:
            open(path, "wb").write(data)
        else:
            torch.save(state if obj is None else obj, path)
        return path

    expect_error("truncated checkpoint", write("err_trunc.pt", blob[:len(blob) // 2]), out,
                 expect="cannot read checkpoint")
    expect_error("garbage checkpoint", write("err_garbage.pt", os.urandom(3000)), out,
                 expect="cannot read checkpoint")
    expect_error("empty checkpoint", write("err_empty.pt", b""), out, expect="cannot read")
    expect_error("no such checkpoint", os.path.join(workdir, "nope.pt"), out, expect="nope.pt")
    state = model.state_dict()
    nan = {k: v.clone() for k, v in state.items()}
    nan["skip_convs.5.weight"][3, 2, 0] = float("nan")
    expect_error("NaN value", write("err_nan.pt", state=nan), out, "--layers-per-block", "4",
                 expect="'skip_convs.5.weight' has non-finite values")
    missing = {k: v for k, v in state.items() if k != "gate_convs.3.weight"}
    expect_error("missing tensor", write("err_missing.pt", state=missing), out,
                 "--layers-per-block", "4", expect="missing tensor 'gate_convs.3.weight'")
    partial = {k: v for k, v in state.items() if k != "residual_convs.0.bias"}
    expect_error("partial biases", write("err_bias.pt", state=partial), out,
                 "--layers-per-block", "4", expect="missing tensor 'residual_convs.0.bias'")
    shape = dict(state, **{"filter_convs.6.weight": torch.zeros(24, 16, 3)})
    expect_error("inconsistent shape", write("err_shape.pt", state=shape), out,
                 "--layers-per-block", "4", expect="'filter_convs.6.weight' has shape")
    scalar = dict(state, **{"start_conv.weight": torch.zeros(16, 1, 1)})
    expect_error("scalar-input model", write("err_scalar.pt", state=scalar), out,
                 "--layers-per-block", "4", expect="only one-hot input models")
    old = {k: v for k, v in state.items() if not k.startswith("end_conv_")}
    old["end_conv.weight"] = torch.zeros(256, 32, 1)
    expect_error("single end_conv model", write("err_old.pt", state=old), out,
                 "--layers-per-block", "4", expect="single end_conv")
    expect_error("--local-hop without local conditioning", good, out, "--layers-per-block", "4",
                 "--local-hop", "5", expect="no local conditioning")
    expect_error("layers not divisible (explicit)", good, out, "--layers-per-block", "3",
                 expect="not divisible")
    expect_error("layers not divisible (default 10)", good, out, expect="not divisible")
    expect_error("not a state_dict", write("err_list.pt", obj=[1, 2, 3]), out,
                 expect="neither a state_dict nor a model")
    # A whole pickled model whose class the converter cannot import.
    moddir = os.path.join(workdir, "hidden_module")
    os.makedirs(moddir, exist_ok=True)
    shutil.copy(os.path.join(TOOLS, "pytorch_wavenet_reference.py"),
                os.path.join(moddir, "hidden_wavenet_model.py"))
    sys.path.insert(0, moddir)
    import hidden_wavenet_model
    sys.path.remove(moddir)
    hidden = hidden_wavenet_model.WaveNetModel(**dict(SMALL, bias=True))
    expect_error("model class not importable", write("err_class.pt", obj=hidden), out,
                 expect="save model.state_dict()")
    leftovers = [f for f in os.listdir(workdir) if f.startswith("err_out")]
    check("converter errors leave no temporary files", not leftovers, str(leftovers))


def test_converter_variants(workdir):
    # A whole model object: layers/blocks come from its attributes.
    model = make_model(4, **dict(SMALL, blocks=3, layers=2))
    path = os.path.join(workdir, "whole.pt")
    torch.save(model, path)
    out = os.path.join(workdir, "whole.fwm")
    r = convert(path, out)
    ok = check("whole model object converts", r.returncode == 0, r.stderr.strip())
    if ok:
        check("whole model object: blocks/layers from attributes",
              fwf.read_model(out)[0] == config_of(model))
    expect_error("--layers-per-block contradicting the model", path,
                 os.path.join(workdir, "whole_bad.fwm"), "--layers-per-block", "3",
                 expect="contradicts")
    path = os.path.join(workdir, "whole_dp.pt")
    torch.save(torch.nn.DataParallel(model), path)
    r = convert(path, out)
    check("whole DataParallel model object converts",
          r.returncode == 0 and fwf.read_model(out)[0] == config_of(model), r.stderr.strip())
    # DataParallel prefixes.
    path = os.path.join(workdir, "dp.pt")
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, path)
    r = convert(path, out, "--layers-per-block", "2")
    check("module. prefix (DataParallel) accepted",
          r.returncode == 0 and fwf.read_model(out)[0] == config_of(model), r.stderr.strip())
    # Overwrites an existing output in place (atomically).
    r = convert(path, out, "--layers-per-block", "2", "--sample-rate", "8000")
    check("existing output replaced",
          r.returncode == 0 and fwf.read_model(out)[0]["sample_rate"] == 8000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastwave", help="path of the fastwave binary")
    parser.add_argument("--workdir", help="scratch directory (default: a temporary one)")
    parser.add_argument("--skip-engine", action="store_true",
                        help="test only the reference, the converter and the file format")
    args = parser.parse_args()
    torch.set_grad_enabled(False)  # inference only
    if not args.skip_engine and not args.fastwave:
        parser.error("give --fastwave PATH or --skip-engine")
    engine = None if args.skip_engine else os.path.abspath(args.fastwave)
    # A fresh subdirectory, so leftovers of an earlier run cannot pass or fail a check.
    workdir = os.path.join(args.workdir or tempfile.mkdtemp(prefix="fastwave_"), "pytorch_parity")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)

    if engine is not None and not check("fastwave binary is executable",
                                        os.access(engine, os.X_OK), engine):
        engine = None  # still test everything else
    tests = [("reference self-test", lambda: check("reference self-test", ref.self_test() == 0)),
             ("format", lambda: test_format_round_trip(workdir, engine))]
    tests += [(name, lambda n=name, c=c: test_config(n, c[0], c[1], workdir, engine))
              for name, c in CONFIGS.items()]
    tests += [("local", lambda: test_local_conditioning(workdir)),
              ("converter errors", lambda: test_converter_errors(workdir)),
              ("converter variants", lambda: test_converter_variants(workdir))]
    for name, test in tests:
        try:
            test()
        except Exception:  # a crash is one failure, not the end of the run
            traceback.print_exc()
            check(f"{name}: ran without an exception", False)
    if not args.workdir:
        shutil.rmtree(os.path.dirname(workdir), ignore_errors=True)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
