#!/usr/bin/python3
"""Write and read fastwave model files (docs/model-format.md) with numpy only.

The file is plain safetensors: an 8-byte little-endian header length N, a JSON header
padded with spaces so that 8+N is a multiple of 64, then the tensor data. Format version 1
holds only F32 tensors, so "decreasing element size" order is simply the file order of
expected_tensors().
"""
import json
import os
import struct
import tempfile

import numpy as np

FORMAT = "fastwave"
FORMAT_VERSION = "1"

# Exactly the config keys of the doc, in its order, with its defaults.
DEFAULT_CONFIG = {
    "blocks": 4,
    "layers_per_block": 10,
    "residual_channels": 32,
    "dilation_channels": 32,
    "skip_channels": 256,
    "end_channels": 256,
    "classes": 256,
    "kernel_size": 2,
    "bias": False,
    "sample_rate": 16000,
    "speakers": 0,
    "global_channels": 0,
    "local_channels": 0,
    "local_hop": 0,
}

# Keys written only when used (docs/model-format.md), so files without them keep their
# exact old bytes: the upsample_* keys and cin_pad together, whenever upsample_scales is
# set; output, mixtures and log_scale_min together, for mixture outputs; local_mel (kept
# as the object it is) when present; preemphasis when not 0, before local_mel. The engine's
# order (ModelConfig::to_json).
OPTIONAL_CONFIG = {
    "upsample_scales": None,
    "upsample_freq_kernel": 1,
    "upsample_conv_in": False,
    "cin_pad": 0,
    "upsample_transposed": False,  # written only when true, after cin_pad
    "output": "softmax",
    "mixtures": 0,
    "log_scale_min": -16.0,
    "preemphasis": 0.0,
    "local_mel": None,
}
OUTPUTS = ("softmax", "logistic_mixture", "gaussian_mixture")
SCALAR_CLASSES = 65536  # mixture outputs: 16-bit sample codes


class FormatError(Exception):
    """A model file or config that does not follow docs/model-format.md."""


def make_config(**overrides):
    """The default config with `overrides` applied; rejects unknown keys and bad values."""
    unknown = sorted(set(overrides) - set(DEFAULT_CONFIG) - set(OPTIONAL_CONFIG))
    if unknown:
        raise FormatError(f"unknown config key '{unknown[0]}'")
    config = dict(DEFAULT_CONFIG, **OPTIONAL_CONFIG)
    config.update(overrides)
    check_config(config)
    return config


def check_config(config):
    for key in DEFAULT_CONFIG:
        if key not in config:
            raise FormatError(f"config lacks '{key}'")
    for key in config:
        if key not in DEFAULT_CONFIG and key not in OPTIONAL_CONFIG:
            raise FormatError(f"unknown config key '{key}'")
    for key, value in config.items():
        if key in OPTIONAL_CONFIG:
            continue  # check_optional_config
        if key == "bias":
            if not isinstance(value, bool):
                raise FormatError("config 'bias' must be true or false")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FormatError(f"config '{key}' must be a non-negative integer, got {value!r}")
    for key in ("blocks", "layers_per_block", "residual_channels", "dilation_channels",
                "skip_channels", "end_channels", "classes", "kernel_size", "sample_rate"):
        if config[key] < 1:
            raise FormatError(f"config '{key}' must be at least 1")
    if (config["speakers"] > 0) != (config["global_channels"] > 0):
        raise FormatError("config 'speakers' and 'global_channels' must both be 0 or both > 0")
    if (config["local_channels"] > 0) != (config["local_hop"] > 0):
        raise FormatError("config 'local_channels' and 'local_hop' must both be 0 or both > 0")
    check_optional_config(dict(OPTIONAL_CONFIG, **config))


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_optional_config(c):
    scales = c["upsample_scales"]
    if scales is not None:
        if c["local_channels"] < 1:
            raise FormatError("config 'upsample_scales' needs local_channels > 0")
        if not isinstance(scales, (list, tuple)) or not 1 <= len(scales) <= 16 or \
                not all(is_int(s) and s >= 1 for s in scales):
            raise FormatError("config 'upsample_scales' must be an array of 1 to 16 positive integers")
        if int(np.prod(scales)) != c["local_hop"]:
            raise FormatError(f"config 'upsample_scales' multiply to {int(np.prod(scales))}, "
                              f"not local_hop = {c['local_hop']}")
    fk = c["upsample_freq_kernel"]
    if not is_int(fk) or fk < 1 or fk % 2 == 0 or \
            fk > (2 * c["local_channels"] - 1 if scales is not None else 1):
        raise FormatError(f"config 'upsample_freq_kernel' {fk!r} must be odd and fit the features")
    if not isinstance(c["upsample_conv_in"], bool):
        raise FormatError("config 'upsample_conv_in' must be true or false")
    if c["upsample_conv_in"] and scales is None:
        raise FormatError("config 'upsample_conv_in' needs upsample_scales")
    if not is_int(c["cin_pad"]) or not 0 <= c["cin_pad"] <= (64 if c["upsample_conv_in"] else 0):
        raise FormatError("config 'cin_pad' must be 0, or 0..64 with upsample_conv_in")
    if not isinstance(c["upsample_transposed"], bool):
        raise FormatError("config 'upsample_transposed' must be true or false")
    if c["upsample_transposed"] and (scales is None or c["upsample_conv_in"]):
        raise FormatError("config 'upsample_transposed' needs upsample_scales and takes no conv_in")
    if c["local_mel"] is not None and not isinstance(c["local_mel"], dict):
        raise FormatError("config 'local_mel' must be an object")
    if c["output"] not in OUTPUTS:
        raise FormatError(f"config 'output' must be one of {', '.join(OUTPUTS)}, got {c['output']!r}")
    low, high = (0, 0) if c["output"] == "softmax" else (1, 256)
    if not is_int(c["mixtures"]) or not low <= c["mixtures"] <= high:
        raise FormatError(f"config 'mixtures' must be in [{low}, {high}] for output {c['output']}")
    if c["output"] != "softmax" and c["classes"] != SCALAR_CLASSES:
        raise FormatError(f"config 'output' {c['output']} needs classes = {SCALAR_CLASSES}")
    lsm = c["log_scale_min"]
    if isinstance(lsm, bool) or not isinstance(lsm, (int, float)) or not np.isfinite(lsm) \
            or lsm >= 0:
        raise FormatError("config 'log_scale_min' must be a finite number < 0")
    a = c["preemphasis"]
    if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 <= a < 1:
        raise FormatError("config 'preemphasis' must be a number in [0, 1)")


def output_rows(config):
    """Rows of end_conv_2: logits, or the mixture's parameters."""
    if config.get("output", "softmax") == "softmax":
        return config["classes"]
    k = config.get("mixtures", 1)
    return 2 if config["output"] == "gaussian_mixture" and k == 1 else 3 * k


def config_json(config):
    """The config string of the file header: the base keys, then the optional ones in use."""
    out = {k: config[k] for k in DEFAULT_CONFIG}
    c = dict(OPTIONAL_CONFIG, **config)
    if c["upsample_scales"] is not None:
        out["upsample_scales"] = list(c["upsample_scales"])
        for key in ("upsample_freq_kernel", "upsample_conv_in", "cin_pad"):
            out[key] = c[key]
        if c["upsample_transposed"]:
            out["upsample_transposed"] = True
    if c["output"] != "softmax":
        out["output"] = c["output"]
        out["mixtures"] = c["mixtures"]
        out["log_scale_min"] = float(c["log_scale_min"])
    if c["preemphasis"] != 0:
        out["preemphasis"] = float(c["preemphasis"])
    if c["local_mel"] is not None:
        out["local_mel"] = c["local_mel"]
    return json.dumps(out, separators=(",", ":"))


def receptive_field(config):
    return config["blocks"] * (config["kernel_size"] - 1) * (2 ** config["layers_per_block"] - 1) + 1


def expected_tensors(config):
    """Tensor name -> shape that `config` requires, in file order (the doc's table)."""
    c = config
    res, dil, skip, end, classes = (c["residual_channels"], c["dilation_channels"],
                                    c["skip_channels"], c["end_channels"], c["classes"])
    layers = c["blocks"] * c["layers_per_block"]
    scalar = c.get("output", "softmax") != "softmax"
    t = {"start_conv.weight": (res, 1 if scalar else classes, 1)}
    if c["bias"]:
        t["start_conv.bias"] = (res,)
    for n in range(layers):
        for conv, shape, out in (("filter_convs", (dil, res, c["kernel_size"]), dil),
                                 ("gate_convs", (dil, res, c["kernel_size"]), dil),
                                 ("residual_convs", (res, dil, 1), res),
                                 ("skip_convs", (skip, dil, 1), skip)):
            t[f"{conv}.{n}.weight"] = shape
            if c["bias"]:
                t[f"{conv}.{n}.bias"] = (out,)
    t["end_conv_1.weight"] = (end, skip, 1)
    t["end_conv_1.bias"] = (end,)
    t["end_conv_2.weight"] = (output_rows(c), end, 1)
    t["end_conv_2.bias"] = (output_rows(c),)
    if c["speakers"] > 0:
        t["global_embedding.weight"] = (c["speakers"], c["global_channels"])
        for n in range(layers):
            t[f"global_filter_convs.{n}.weight"] = (dil, c["global_channels"], 1)
            t[f"global_gate_convs.{n}.weight"] = (dil, c["global_channels"], 1)
    if c["local_channels"] > 0:
        for n in range(layers):
            t[f"local_filter_convs.{n}.weight"] = (dil, c["local_channels"], 1)
            t[f"local_gate_convs.{n}.weight"] = (dil, c["local_channels"], 1)
    if c.get("upsample_conv_in"):
        t["upsample.conv_in.weight"] = (c["local_channels"], c["local_channels"],
                                        2 * c["cin_pad"] + 1)
    for i, s in enumerate(c.get("upsample_scales") or ()):
        if c.get("upsample_transposed"):  # ConvTranspose2d stages with a bias
            t[f"upsample.convs.{i}.weight"] = (1, 1, c["upsample_freq_kernel"], s)
            t[f"upsample.convs.{i}.bias"] = (1,)
        else:
            t[f"upsample.convs.{i}.weight"] = (1, 1, c["upsample_freq_kernel"], 2 * s + 1)
    return t


def check_tensors(config, tensors):
    """Raises FormatError unless `tensors` are exactly those of `config`, with finite values."""
    expected = expected_tensors(config)
    for name in expected:
        if name not in tensors:
            raise FormatError(f"missing tensor '{name}'")
    for name, array in tensors.items():
        if name not in expected:
            raise FormatError(f"unexpected tensor '{name}'")
        if tuple(array.shape) != tuple(expected[name]):
            raise FormatError(f"tensor '{name}' has shape {list(array.shape)}, "
                              f"expected {list(expected[name])}")
        if not np.all(np.isfinite(array)):
            raise FormatError(f"tensor '{name}' has non-finite values")


def encode(config, tensors):
    """The bytes of a model file; validates first."""
    check_config(config)
    check_tensors(config, tensors)
    header = {"__metadata__": {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config_json(config),
    }}
    chunks, offset = [], 0
    for name in expected_tensors(config):  # all F32: file order is already by element size
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(expected_tensors(config)[name]),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 64)  # data section starts 64-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_model(path, config, tensors):
    """Writes atomically: a temporary file beside `path`, then os.replace."""
    data = encode(config, tensors)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is not what a user expects
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_model(path):
    """Returns (config, {name: float32 array}); raises FormatError naming the problem."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: too short for a model file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise FormatError(f"{path}: header length {n} exceeds the file size")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
        meta = header.pop("__metadata__")
        if meta.get("format") != FORMAT:
            raise FormatError(f"{path}: not a fastwave model file")
        if meta.get("format_version") != FORMAT_VERSION:
            raise FormatError(f"{path}: unknown format_version {meta.get('format_version')!r}")
        config = json.loads(meta["config"])
        # Like ModelConfig::from_json: missing keys keep their defaults.
        config = make_config(**config)
    except (ValueError, KeyError, AttributeError, TypeError) as e:
        raise FormatError(f"{path}: malformed header ({e})") from None
    except FormatError as e:
        raise FormatError(f"{path}: {e}") from None
    body = memoryview(data)[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        try:
            dtype, (begin, end), shape = info["dtype"], info["data_offsets"], tuple(info["shape"])
            size = 4 * int(np.prod(shape, dtype=np.int64))
        except (TypeError, ValueError, KeyError) as e:
            raise FormatError(f"{path}: malformed entry for tensor '{name}' ({e})") from None
        if dtype != "F32":
            raise FormatError(f"{path}: tensor '{name}' has dtype {dtype}, expected F32")
        if not 0 <= begin <= end <= len(body) or end - begin != size:
            raise FormatError(f"{path}: tensor '{name}' has bad data_offsets {[begin, end]}")
        tensors[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(shape).copy()
        spans.append((begin, end))
    # safetensors rule: the tensors tile the data section exactly.
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise FormatError(f"{path}: gap or overlap in the data section at byte {position}")
        position = end
    if position != len(body):
        raise FormatError(f"{path}: {len(body) - position} trailing bytes after the tensors")
    check_tensors(config, tensors)
    return config, tensors
