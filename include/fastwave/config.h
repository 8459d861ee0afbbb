// Model hyper-parameters: everything needed to know the shape of every tensor.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fastwave {

struct ModelConfig {
  int blocks = 4;
  int layers_per_block = 10;
  int residual_channels = 32;
  int dilation_channels = 32;
  int skip_channels = 256;
  int end_channels = 256;
  // Sample codes: µ-law classes for softmax outputs (the input is their one-hot), 65536
  // 16-bit codes for mixture outputs (the input is the sample value, a scalar).
  int classes = 256;
  int kernel_size = 2;
  bool bias = false;  // biases on start, filter, gate, residual and skip convs
  int sample_rate = 16000;

  // Global conditioning: one learned embedding per speaker, projected into every layer.
  int speakers = 0;          // 0 disables global conditioning
  int global_channels = 0;   // embedding width
  // Local conditioning: one feature vector per frame of `local_hop` samples.
  int local_channels = 0;    // 0 disables local conditioning
  int local_hop = 0;

  // The upsampling network of r9y9's wavenet_vocoder, from frames to one feature vector per
  // sample. Empty: every frame is repeated local_hop times. Otherwise stage i stretches
  // time by upsample_scales[i] (nearest) and runs a 2-D conv with kernel
  // (upsample_freq_kernel, 2*scale+1); the scales multiply to local_hop.
  std::vector<int> upsample_scales;
  int upsample_freq_kernel = 1;   // odd: the conv's extent across feature channels
  // r9y9's conv_in: a Conv1d(local, local, 2*cin_pad+1) over the frames before
  // upsampling, which sees cin_pad frames of context either side.
  bool upsample_conv_in = false;
  int cin_pad = 0;
  // r9y9's older upsampling (its 2018 checkpoints): each stage a ConvTranspose2d(1, 1,
  // (upsample_freq_kernel, scale), stride (1, scale)) with a bias, then a ReLU, instead of
  // stretch + conv. No conv_in.
  bool upsample_transposed = false;

  // The log-mel front end local features come from (a vocoder's input), with
  // local_channels bands and a hop of local_hop samples at sample_rate. Frame f is
  // centred on the samples it conditions, [f*hop, (f+1)*hop).
  struct LocalMel {
    int fft_size = 1024;
    std::string window = "hann";  // the only window so far
    double min_hz = 0;
    double max_hz = 0;     // 0: Nyquist
    double min_db = -100;  // floor of 10 log10(mel power); maps to 0
    double max_db = 50;    // maps to 1 (not clamped)
    // Variants for r9y9/wavenet_vocoder's librosa front end (docs/model-format.md); the
    // defaults are fastwave's own and are not written to the JSON.
    std::string spectrum = "power";     // "power" | "magnitude" (what the filters weigh)
    std::string mel_scale = "htk";      // "htk" | "slaney" (librosa's default scale)
    std::string filter_norm = "none";   // "none" | "slaney" (each triangle times 2 / width in Hz)
    std::string pad = "zeros";          // "zeros" | "reflect" (beyond the signal's ends)
    std::string framing = "hop";        // "hop": N / hop frames, frame f centred on f*hop + hop/2;
                                        // "librosa": 1 + N / hop frames, centred on f*hop
    std::string log = "db";             // "db": min_db/max_db mapping | "log10": log10(max(S, 1e-10))
    std::vector<double> mean, std;      // per band, applied after the log: (v - mean) / std; empty: none
    bool operator==(const LocalMel&) const = default;
  };
  std::optional<LocalMel> local_mel;

  // What end_conv_2's outputs mean (r9y9's output distributions; include/fastwave/distribution.h).
  enum class Output {
    kSoftmax,           // `classes` logits
    kLogisticMixture,   // discretized mixture of `mixtures` logistics: [logits | means | log scales]
    kGaussianMixture,   // `mixtures` Gaussians: [mean, log scale] for one, else as above
  };
  Output output = Output::kSoftmax;
  int mixtures = 0;              // components of a mixture output
  double log_scale_min = -16.0;  // floor of the log scales in the likelihood (not in sampling)

  // LPCNet's pre-emphasis: the network models e[n] = x[n] - preemphasis * x[n-1] instead of
  // the audio x, and generation undoes it (x[n] = e[n] + preemphasis * x[n-1]), so the
  // sampling noise comes out shaped like speech (less of it at high frequencies) instead
  // of white. 0 = off. The mel features stay those of x.
  double preemphasis = 0;

  bool scalar_input() const { return output != Output::kSoftmax; }
  // Columns of start_conv: the one-hot width, or 1 for a scalar input.
  int input_width() const { return scalar_input() ? 1 : classes; }
  // Rows of end_conv_2: the values the network emits per sample.
  int outputs() const {
    if (output == Output::kSoftmax) return classes;
    if (output == Output::kGaussianMixture && mixtures == 1) return 2;
    return 3 * mixtures;
  }

  int num_layers() const { return blocks * layers_per_block; }
  int dilation(int layer) const { return 1 << (layer % layers_per_block); }
  // Number of input samples that influence one output (pytorch-wavenet's definition).
  int receptive_field() const {
    return blocks * (kernel_size - 1) * ((1 << layers_per_block) - 1) + 1;
  }
  bool has_global() const { return speakers > 0; }
  bool has_local() const { return local_channels > 0; }
  bool has_upsampling() const { return !upsample_scales.empty(); }

  // Throws fastwave::Error naming the first out-of-range field.
  void validate() const;
  void validate_vocoder() const;  // the upsampling and local_mel keys

  std::string to_json() const;
  // Parses the JSON written by to_json(); unknown keys are rejected, missing keys keep defaults.
  static ModelConfig from_json(const std::string& json);
};

// "softmax", "logistic_mixture", "gaussian_mixture" (the config key `output`).
const char* output_name(ModelConfig::Output output);
ModelConfig::Output parse_output(const std::string& name);  // throws fastwave::Error

}  // namespace fastwave
