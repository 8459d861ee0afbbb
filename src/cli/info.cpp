// fastwave info MODEL: what a model file holds.
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show a model's config, size and receptive field");
  auto path = std::make_shared<std::string>();
  cmd->add_option("model", *path, "Model file (default: the shipped default model)");
  cmd->callback([path] {
    const std::string file = resolve_model_path(*path);
    const Model model = Model::load(file);
    const ModelConfig& c = model.config();
    std::printf("model            %s\n", file.c_str());
    std::printf("layers           %d blocks x %d layers (dilations 1..%d), kernel size %d\n", c.blocks,
                c.layers_per_block, 1 << (c.layers_per_block - 1), c.kernel_size);
    std::printf("channels         residual %d, dilation %d, skip %d, end %d, classes %d\n",
                c.residual_channels, c.dilation_channels, c.skip_channels, c.end_channels, c.classes);
    std::printf("bias             %s\n", c.bias ? "yes" : "no");
    if (c.output == ModelConfig::Output::kSoftmax) {
      std::printf("output           softmax over %d µ-law classes\n", c.classes);
    } else {
      std::printf("output           mixture of %d %s, 16-bit samples (scalar input)\n", c.mixtures,
                  c.output == ModelConfig::Output::kLogisticMixture ? "logistics" : "Gaussians");
    }
    if (c.preemphasis != 0) {
      std::printf("pre-emphasis     %g (codes of x[n] - %g x[n-1]; decoding undoes it)\n", c.preemphasis, c.preemphasis);
    }
    std::printf("sample rate      %d Hz\n", c.sample_rate);
    std::printf("receptive field  %d samples (%.1f ms)\n", c.receptive_field(), 1000.0 * c.receptive_field() / c.sample_rate);
    std::printf("conditioning     %s\n",
                c.has_global() && c.has_local() ? "global (speakers) and local (features)"
                : c.has_global()                ? "global (speakers)"
                : c.has_local()                 ? "local (features)"
                                                : "none");
    if (c.has_global()) std::printf("speakers         %d (embedding %d)\n", c.speakers, c.global_channels);
    if (c.has_local()) std::printf("local features   %d channels, one frame per %d samples\n", c.local_channels, c.local_hop);
    if (c.has_upsampling()) {
      std::string scales;
      for (int s : c.upsample_scales) scales += (scales.empty() ? "" : "x") + std::to_string(s);
      std::printf("upsampling       %s%s, frequency kernel %d%s\n", scales.c_str(),
                  c.upsample_transposed ? " transposed (bias, ReLU)" : "", c.upsample_freq_kernel,
                  c.upsample_conv_in ? (", conv_in over " + std::to_string(2 * c.cin_pad + 1) + " frames").c_str() : "");
      const int lookahead = lookahead_frames(c);
      std::printf("look-ahead       %d frames (%.1f ms) when streamed\n", lookahead,
                  1000.0 * lookahead * c.local_hop / c.sample_rate);
    }
    if (c.local_mel && c.local_mel->log == "db") {
      std::printf("mel front end    %d bands, FFT %d (%s), %g..%g Hz, [%g, %g] dB -> [0, 1]\n", c.local_channels,
                  c.local_mel->fft_size, c.local_mel->window.c_str(), c.local_mel->min_hz,
                  c.local_mel->max_hz > 0 ? c.local_mel->max_hz : c.sample_rate / 2.0, c.local_mel->min_db,
                  c.local_mel->max_db);
    } else if (c.local_mel) {
      std::printf("mel front end    %d bands, FFT %d (%s), %g..%g Hz, log10\n", c.local_channels,
                  c.local_mel->fft_size, c.local_mel->window.c_str(), c.local_mel->min_hz,
                  c.local_mel->max_hz > 0 ? c.local_mel->max_hz : c.sample_rate / 2.0);
    }
    if (c.local_mel) {
      const ModelConfig::LocalMel& m = *c.local_mel;
      const ModelConfig::LocalMel defaults;
      if (m.spectrum != defaults.spectrum || m.mel_scale != defaults.mel_scale || m.filter_norm != defaults.filter_norm ||
          m.pad != defaults.pad || m.framing != defaults.framing || !m.mean.empty()) {
        std::printf("mel variants     %s spectrum, %s scale, %s filter norm, %s padding, %s framing%s\n",
                    m.spectrum.c_str(), m.mel_scale.c_str(), m.filter_norm.c_str(), m.pad.c_str(), m.framing.c_str(),
                    m.mean.empty() ? "" : ", per-band mean/std");
      }
    }
    std::printf("parameters       %lld\n", static_cast<long long>(model.parameter_count()));
    std::printf("file size        %s\n", format_bytes(double(std::filesystem::file_size(file))).c_str());
    // Bytes per stored dtype, and per scheme (a weight's scales count with it).
    std::map<std::string, std::pair<int64_t, int64_t>> per_dtype, per_scheme;  // tensors, bytes
    for (const auto& [name, t] : model.tensors()) {
      auto& d = per_dtype[dtype_name(t.dtype)];
      d.first += 1;
      d.second += static_cast<int64_t>(t.bytes.size());
      std::string base = name;
      for (const std::string suffix : {".scale", ".input_scale"}) {
        if (base.ends_with(suffix)) base.resize(base.size() - suffix.size());
      }
      auto& s = per_scheme[scheme_name(model.scheme_of(base).scheme)];
      s.first += base == name;
      s.second += static_cast<int64_t>(t.bytes.size());
    }
    for (const auto& [dtype, entry] : per_dtype) {
      std::printf("dtype %-10s %lld tensors, %s\n", dtype.c_str(), static_cast<long long>(entry.first),
                  format_bytes(double(entry.second)).c_str());
    }
    for (const auto& [scheme, entry] : per_scheme) {
      std::printf("scheme %-9s %lld tensors, %s\n", scheme.c_str(), static_cast<long long>(entry.first),
                  format_bytes(double(entry.second)).c_str());
    }
  });
}

}  // namespace fastwave::cli
