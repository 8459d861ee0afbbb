#!/usr/bin/python3
"""Start a vocoder from a trained unconditional model (docs/vocoder.md, "Warm start").

A WaveNet trained on speech already predicts speech samples; a vocoder is the same
network told, through local conditioning, what the mel-spectrogram says. This writes a
vocoder whose dilated stack, start and end convs are MODEL's, whose local projections are
zero (so it starts out predicting exactly what the model predicts for the average
speaker), and whose mel front end and upsampling network are TEMPLATE's (a vocoder file,
e.g. `fastwave init --vocoder` or a trained one). `fastwave train --vocoder --init-from OUT`
then teaches it to listen to the mel.

A speaker-conditioned MODEL loses its speakers: the mean speaker's term goes into the
filter and gate biases (the file gains biases, the others zero), so the vocoder serves any
voice its mel describes.

    /usr/bin/python3 tools/warm_start_vocoder.py MODEL.fwm TEMPLATE.fwm -o OUT.fwm
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastwave_format as ff  # noqa: E402

LOCAL_KEYS = ("local_channels", "local_hop", "upsample_scales", "upsample_freq_kernel", "upsample_conv_in",
              "cin_pad", "upsample_transposed", "local_mel")


def warm_start(model_config, model_tensors, template_config, template_tensors):
    """(config, tensors) of the vocoder; raises ValueError naming what does not fit."""
    if model_config["local_channels"]:
        raise ValueError("the model already takes local features")
    if not template_config["local_channels"] or not template_config.get("local_mel"):
        raise ValueError("the template is not a vocoder with a mel front end")
    if model_config["sample_rate"] != template_config["sample_rate"]:
        raise ValueError(f"sample rates differ: model {model_config['sample_rate']}, "
                         f"template {template_config['sample_rate']}")
    if model_config.get("output", "softmax") != template_config.get("output", "softmax"):
        raise ValueError("the model and the template have different output distributions")
    config = dict(model_config)
    for key in LOCAL_KEYS:
        config[key] = template_config.get(key)
    config["speakers"], config["global_channels"] = 0, 0
    fold = model_config["speakers"] > 0
    if fold:
        config["bias"] = True
    tensors = {}
    for name, shape in ff.expected_tensors(config).items():
        if name.startswith("upsample."):
            tensors[name] = template_tensors[name]
        elif name.startswith("local_"):
            tensors[name] = np.zeros(shape, np.float32)
        elif name in model_tensors:
            tensors[name] = model_tensors[name]
        elif name.endswith(".bias"):
            tensors[name] = np.zeros(shape, np.float32)
        else:
            raise ValueError(f"the model has no tensor {name}")
    if fold:
        mean = model_tensors["global_embedding.weight"].mean(axis=0)
        for n in range(config["blocks"] * config["layers_per_block"]):
            for conv in ("filter_convs", "gate_convs"):
                term = model_tensors[f"global_{conv}.{n}.weight"][:, :, 0] @ mean
                tensors[f"{conv}.{n}.bias"] = tensors[f"{conv}.{n}.bias"] + term.astype(np.float32)
    return config, tensors


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="a trained unconditional (or speaker-conditioned) model")
    p.add_argument("template", help="a vocoder file: its mel front end and upsampling network")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    try:
        model = ff.read_model(a.model)
        template = ff.read_model(a.template)
        config, tensors = warm_start(*model, *template)
        ff.write_model(a.output, config, tensors)
    except (OSError, ff.FormatError, ValueError, KeyError) as e:
        print(f"warm_start_vocoder: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {a.output}: {a.model}'s network, {a.template}'s mel front end and upsampling, "
          f"local projections zero", file=sys.stderr)


if __name__ == "__main__":
    main()
