#!/usr/bin/python3
"""Convert a pytorch-wavenet checkpoint into a fastwave model file (docs/pytorch-wavenet.md).

    convert_pytorch_wavenet.py CHECKPOINT OUT [--layers-per-block N] [--sample-rate HZ]
                               [--local-hop SAMPLES]

CHECKPOINT is what torch.save wrote: a model's state_dict() (recommended) or a whole
WaveNetModel object (needs its class importable). The config is inferred from tensor
shapes; only the split of layers into blocks, the sample rate and the local hop are not
stored in the tensors. Every error is one line on stderr and exit code 1.
"""
import os
import re
import sys

PROG = os.path.basename(sys.argv[0])

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import fastwave_format as fwf
    import numpy as np
    import torch
    from torch_checkpoint import (ConvertError, OneLineParser, float_arrays, is_state_dict,
                                  load_checkpoint, one_line)
except ImportError as e:  # e.g. run by a Python without numpy or PyTorch
    sys.exit(f"{PROG}: error: {e}; run with /usr/bin/python3 (needs numpy and PyTorch)")


def load_state_dict(path):
    """Returns ({name: float32 numpy array}, {attribute: int} read from a whole model)."""
    # A pickled model object (e.g. wavenet_model.WaveNetModel) needs its class importable.
    obj = load_checkpoint(path, missing_class_hint="put pytorch-wavenet on PYTHONPATH, "
                                                   "or save model.state_dict() instead")
    attributes = {}
    if isinstance(obj, torch.nn.Module):
        for name in ("layers", "blocks", "local_hop"):
            value = getattr(obj, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                attributes[name] = value
        obj = obj.state_dict()
    if not is_state_dict(obj):
        raise ConvertError(f"'{path}' holds neither a state_dict nor a model")
    return float_arrays(obj, np.float32), attributes


def shape_of(tensors, name, dims):
    if name not in tensors:
        raise ConvertError(f"missing tensor '{name}'")
    shape = tensors[name].shape
    if len(shape) != dims:
        raise ConvertError(f"tensor '{name}' has shape {list(shape)}, expected {dims} dimensions")
    return shape


def infer_config(tensors, attributes, args):
    # Older pytorch-wavenet revisions fed the raw sample (1 input channel) and had a
    # single end_conv; fastwave implements the one-hot model of its master branch.
    if "end_conv.weight" in tensors:
        raise ConvertError("this is an old pytorch-wavenet model with a single end_conv; "
                           "only the one-hot model with end_conv_1/end_conv_2 is supported")
    residual, classes, _ = shape_of(tensors, "start_conv.weight", 3)
    outputs = shape_of(tensors, "end_conv_2.weight", 3)[0]
    if classes != outputs:
        raise ConvertError(f"start_conv takes {classes} input channels but end_conv_2 predicts "
                           f"{outputs} classes; only one-hot input models are supported")
    dilation, _, kernel_size = shape_of(tensors, "filter_convs.0.weight", 3)
    skip = shape_of(tensors, "skip_convs.0.weight", 3)[0]
    end = shape_of(tensors, "end_conv_1.weight", 3)[0]

    numbers = sorted(int(m.group(1)) for m in map(re.compile(r"filter_convs\.(\d+)\.weight$").match,
                                                   tensors) if m)
    layers = len(numbers)
    if numbers != list(range(layers)):
        raise ConvertError(f"filter_convs are not numbered 0..{layers - 1}")
    per_block = args.layers_per_block
    if per_block is None:
        per_block = attributes.get("layers", 10)
    elif "layers" in attributes and attributes["layers"] != per_block:
        raise ConvertError(f"--layers-per-block {per_block} contradicts the model's "
                           f"layers={attributes['layers']}")
    if per_block < 1:
        raise ConvertError("--layers-per-block must be at least 1")
    if layers % per_block:
        raise ConvertError(f"{layers} layers are not divisible by --layers-per-block {per_block}")
    if "blocks" in attributes and attributes["blocks"] * per_block != layers:
        raise ConvertError(f"the model says blocks={attributes['blocks']} but has {layers} layers")

    speakers = global_channels = local_channels = local_hop = 0
    if "global_embedding.weight" in tensors:
        speakers, global_channels = shape_of(tensors, "global_embedding.weight", 2)
    if "local_filter_convs.0.weight" in tensors:
        local_channels = shape_of(tensors, "local_filter_convs.0.weight", 3)[1]
        local_hop = args.local_hop or attributes.get("local_hop", 0)
        if local_hop < 1:
            raise ConvertError("the model has local conditioning: give --local-hop SAMPLES")
    elif args.local_hop:
        raise ConvertError("--local-hop given, but the model has no local conditioning")
    # Biases are all-or-nothing; a partial set shows up below as a missing tensor.
    bias = any(re.match(r"(start_conv|(filter|gate|residual|skip)_convs\.\d+)\.bias$", name)
               for name in tensors)
    try:
        return fwf.make_config(
            blocks=layers // per_block, layers_per_block=per_block,
            residual_channels=residual, dilation_channels=dilation, skip_channels=skip,
            end_channels=end, classes=classes, kernel_size=kernel_size, bias=bias,
            sample_rate=args.sample_rate, speakers=speakers, global_channels=global_channels,
            local_channels=local_channels, local_hop=local_hop)
    except fwf.FormatError as e:
        raise ConvertError(str(e)) from None


def main(argv=None):
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="file written by torch.save")
    parser.add_argument("out", help="fastwave model file to write (.fwm)")
    parser.add_argument("--layers-per-block", type=int, default=None, metavar="N",
                        help="layers per dilation cycle (pytorch-wavenet's `layers`; "
                             "default: the model's own, else 10)")
    parser.add_argument("--sample-rate", type=int, default=16000, metavar="HZ")
    parser.add_argument("--local-hop", type=int, default=0, metavar="SAMPLES",
                        help="samples per feature frame (models with local conditioning)")
    args = parser.parse_args(argv)
    try:
        tensors, attributes = load_state_dict(args.checkpoint)
        config = infer_config(tensors, attributes, args)
        fwf.write_model(args.out, config, tensors)
    except (ConvertError, fwf.FormatError) as e:
        sys.exit(f"{PROG}: error: {e}")
    except OSError as e:
        sys.exit(f"{PROG}: error: cannot write '{args.out}': {e.strerror or one_line(e)}")
    print(f"wrote {args.out}: {config['blocks']} blocks x {config['layers_per_block']} layers, "
          f"receptive field {fwf.receptive_field(config)}, "
          f"{sum(t.size for t in tensors.values())} parameters")


if __name__ == "__main__":
    main()
