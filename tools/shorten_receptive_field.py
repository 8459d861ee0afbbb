#!/usr/bin/python3
"""Keep the first K layers of every block of a model: a shorter receptive field.

Each block's dilations double from 1, so its last layers are the ones that reach far into
the past: keeping K layers per block cuts the receptive field from
blocks * (kernel - 1) * (2^L - 1) + 1 samples to blocks * (kernel - 1) * (2^K - 1) + 1,
and the cost per sample by the dropped layers' share. Everything else (start and end
convs, conditioning, the mel front end and upsampling of a vocoder) is kept as it is, so
`fastwave train --init-from OUT` continues from trained weights. The point for a vocoder
(docs/vocoder.md, "A shorter receptive field"): with less of its own past to go on, the
network has to take more from the mel.

    /usr/bin/python3 tools/shorten_receptive_field.py MODEL.fwm --layers-per-block K -o OUT.fwm
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastwave_format as ff  # noqa: E402


def shorten(config, tensors, layers_per_block):
    """(config, tensors) keeping layers 0..K-1 of every block; raises ValueError."""
    old = config["layers_per_block"]
    if not 1 <= layers_per_block < old:
        raise ValueError(f"--layers-per-block must be 1..{old - 1} (the model has {old})")
    new_config = dict(config, layers_per_block=layers_per_block)
    per_layer = ("filter_convs", "gate_convs", "residual_convs", "skip_convs", "global_filter_convs",
                 "global_gate_convs", "local_filter_convs", "local_gate_convs")
    renamed = {}
    for name, array in tensors.items():
        prefix, _, rest = name.partition(".")
        if prefix not in per_layer:
            renamed[name] = array
            continue
        index, _, suffix = rest.partition(".")
        block, layer = divmod(int(index), old)
        if layer < layers_per_block:
            renamed[f"{prefix}.{block * layers_per_block + layer}.{suffix}"] = array
    ff.check_tensors(new_config, renamed)
    return new_config, renamed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--layers-per-block", type=int, required=True)
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    try:
        config, tensors = ff.read_model(a.model)
        new_config, new_tensors = shorten(config, tensors, a.layers_per_block)
        ff.write_model(a.output, new_config, new_tensors)
    except (OSError, ff.FormatError, ValueError) as e:
        print(f"shorten_receptive_field: {a.model}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {a.output}: {new_config['blocks']} x {a.layers_per_block} layers, receptive field "
          f"{ff.receptive_field(config)} -> {ff.receptive_field(new_config)} samples", file=sys.stderr)


if __name__ == "__main__":
    main()
