#!/usr/bin/python3
"""Average the weights of float models of one config (checkpoint averaging): the mean of a
run's last few snapshots (`fastwave train --snapshots`) is what they agree on, the offline
counterpart of `fastwave train --ema` (docs/training.md).

    /usr/bin/python3 tools/average_models.py -o averaged.fwm run/speech.step4200.fwm run/speech.step4350.fwm ...
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastwave_format as ff  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    config, total = None, None
    for path in a.models:
        try:
            c, tensors = ff.read_model(path)
        except ff.FormatError as e:  # names the file
            sys.exit(f"average_models: {e}")
        except OSError as e:
            sys.exit(f"average_models: {path}: {e.strerror}")
        if config is None:
            config, total = c, {k: v.astype(np.float64) for k, v in tensors.items()}
        elif c != config:
            sys.exit(f"average_models: {path}: another config than {a.models[0]}")
        else:
            for k, v in tensors.items():
                total[k] += v
    ff.write_model(a.output, config, {k: (v / len(a.models)).astype(np.float32) for k, v in total.items()})
    print(f"average_models: {len(a.models)} models -> {a.output}")


if __name__ == "__main__":
    main()
