"""Reading PyTorch checkpoints for the converters (convert_pytorch_wavenet.py,
convert_wavenet_vocoder.py): every problem is a ConvertError with a one-line message,
and OneLineParser keeps their usage errors to one line as well."""
import argparse
import os
import sys
import warnings

import numpy as np
import torch


class ConvertError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """Usage errors too are one line on stderr and exit code 1 (argparse's own: usage, 2)."""
    def error(self, message):
        sys.exit(f"{self.prog}: error: {message} (see --help)")


def one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def load_checkpoint(path, missing_class_hint=None):
    """What torch.save wrote to `path`, unwrapped from a training checkpoint's dict
    ({"state_dict": ...}, {"model_state_dict": ...}, {"model": ...}) and from DataParallel.
    `missing_class_hint` ends the message when a pickled model's class is not importable."""
    if not os.path.isfile(path):
        problem = "is a directory" if os.path.isdir(path) else "no such file"
        raise ConvertError(f"cannot read checkpoint '{path}': {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SourceChangeWarning on whole models
            obj = torch.load(path, map_location="cpu")
    except (ModuleNotFoundError, AttributeError) as e:
        if missing_class_hint is None:
            raise ConvertError(f"cannot read checkpoint '{path}': {one_line(e)}") from None
        raise ConvertError(f"cannot unpickle '{path}': its model class is not importable ({one_line(e)}); "
                           f"{missing_class_hint}") from None
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise ConvertError(f"cannot read checkpoint '{path}': {one_line(e)}") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), (dict, torch.nn.Module)):
                obj = obj[key]
                break
    if isinstance(obj, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
        obj = obj.module
    return obj


def is_state_dict(obj):
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def float_arrays(state_dict, dtype, finite=False):
    """{name: numpy array of `dtype`} without a "module." prefix (DataParallel); refuses
    integer tensors and, with `finite`, NaN or Inf."""
    arrays = {}
    for name, value in state_dict.items():
        name = name[len("module."):] if name.startswith("module.") else name
        if not value.is_floating_point():
            raise ConvertError(f"tensor '{name}' has dtype {value.dtype}, expected floating point")
        array = value.detach().cpu().double().numpy().astype(dtype)  # bf16 has no numpy type
        if finite and not np.all(np.isfinite(array)):
            raise ConvertError(f"tensor '{name}' has non-finite values")
        arrays[name] = array
    return arrays
