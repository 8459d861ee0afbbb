"""docs/model-format.md's network ("The network, precisely"), transcribed literally in
float64 numpy: an independent check of converted files shared by test_pytorch_parity.py
and test_wavenet_vocoder_parity.py. Each test works out the local conditioning its own
way (repeated frames, or r9y9's upsampling) and passes it in per sample.
"""
import numpy as np


def doc_logits(config, tensors, inputs, speaker=None, local=None):
    """logits[t] for every position of `inputs` ([T, output rows]; for mixture outputs the
    rows are [logit | mean | log_scale]). `inputs` are ids (softmax) or 16-bit sample codes
    (mixtures); `local` is the local conditioning u[t], [T, local_channels], or None."""
    c = {k: v.astype(np.float64) for k, v in tensors.items()}
    k, T = config["kernel_size"], len(inputs)
    b = (lambda name: c[name]) if config["bias"] else (lambda name: 0.0)
    if config.get("output", "softmax") == "softmax":
        x = c["start_conv.weight"][:, inputs, 0].T + b("start_conv.bias")  # [T, residual]
    else:  # code c is the sample value (c - 32768) / 32768
        values = (np.asarray(inputs, np.float64) - 32768.0) / 32768.0
        x = values[:, None] * c["start_conv.weight"][:, 0, 0] + b("start_conv.bias")
    skip = 0.0
    for n in range(config["blocks"] * config["layers_per_block"]):
        d = 2 ** (n % config["layers_per_block"])
        f = np.zeros((T, config["dilation_channels"])) + b(f"filter_convs.{n}.bias")
        g = np.zeros((T, config["dilation_channels"])) + b(f"gate_convs.{n}.bias")
        for j in range(k):
            shift = (k - 1 - j) * d  # x[t - shift], zero before time 0
            if shift < T:
                f[shift:] += x[:T - shift] @ c[f"filter_convs.{n}.weight"][:, :, j].T
                g[shift:] += x[:T - shift] @ c[f"gate_convs.{n}.weight"][:, :, j].T
        if config["speakers"]:
            e = c["global_embedding.weight"][speaker]
            f += c[f"global_filter_convs.{n}.weight"][:, :, 0] @ e
            g += c[f"global_gate_convs.{n}.weight"][:, :, 0] @ e
        if local is not None:
            f += local @ c[f"local_filter_convs.{n}.weight"][:, :, 0].T
            g += local @ c[f"local_gate_convs.{n}.weight"][:, :, 0].T
        z = np.tanh(f) / (1 + np.exp(-g))
        skip = skip + z @ c[f"skip_convs.{n}.weight"][:, :, 0].T + b(f"skip_convs.{n}.bias")
        x = z @ c[f"residual_convs.{n}.weight"][:, :, 0].T + b(f"residual_convs.{n}.bias") + x
    h = np.maximum(np.maximum(skip, 0) @ c["end_conv_1.weight"][:, :, 0].T + c["end_conv_1.bias"], 0)
    return h @ c["end_conv_2.weight"][:, :, 0].T + c["end_conv_2.bias"]
