// fastwave init: a randomly initialised model of any config, for tests and benchmarks.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {

void add_init_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("init", "Write a randomly initialised model");
  struct Options {
    ModelConfig config;
    std::string config_file, out;
    std::string seed = "0";
    bool vocoder = false;
    std::string distribution;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("-o,--output", o->out, "Model file to write")->required();
  cmd->add_option("--config", o->config_file, "JSON config (keys as in docs/model-format.md); flags override it");
  cmd->add_option("--seed", o->seed, "Random seed, an integer in [0, 2^64)")->capture_default_str();
  ModelConfig& c = o->config;
  cmd->add_option("--blocks", c.blocks)->capture_default_str();
  cmd->add_option("--layers-per-block", c.layers_per_block)->capture_default_str();
  cmd->add_option("--residual-channels", c.residual_channels)->capture_default_str();
  cmd->add_option("--dilation-channels", c.dilation_channels)->capture_default_str();
  cmd->add_option("--skip-channels", c.skip_channels)->capture_default_str();
  cmd->add_option("--end-channels", c.end_channels)->capture_default_str();
  cmd->add_option("--classes", c.classes)->capture_default_str();
  cmd->add_option("--kernel-size", c.kernel_size)->capture_default_str();
  cmd->add_flag("--bias", c.bias, "Biases on start, filter, gate, residual and skip convs");
  cmd->add_option("--sample-rate", c.sample_rate)->capture_default_str();
  cmd->add_option("--speakers", c.speakers, "Global conditioning: number of speakers")->capture_default_str();
  cmd->add_option("--global-channels", c.global_channels, "Speaker embedding width")->capture_default_str();
  cmd->add_option("--local-channels", c.local_channels, "Local conditioning: features per frame")->capture_default_str();
  cmd->add_option("--local-hop", c.local_hop, "Samples per feature frame")->capture_default_str();
  cmd->add_flag("--vocoder", o->vocoder,
                "Start from the default vocoder (80 mel bands, hop 256 upsampled by 4,4,4,4, conv_in with "
                "cin_pad 2, kernel size 3, its log-mel front end); other flags override it");
  cmd->add_option("--upsample-scales", c.upsample_scales, "Upsampling network stages, e.g. 4,4 (product = local hop)")
      ->delimiter(',');
  cmd->add_option("--upsample-freq-kernel", c.upsample_freq_kernel, "Upsampling convs' extent across channels (odd)");
  cmd->add_option("--cin-pad", c.cin_pad, "conv_in before upsampling, seeing this many frames either side");
  cmd->add_option("--output-distribution", o->distribution,
                  "softmax (µ-law classes), logistic_mixture or gaussian_mixture (r9y9's outputs: a scalar "
                  "input and 16-bit samples; sets --classes 65536)")
      ->check(CLI::IsMember({"softmax", "logistic_mixture", "gaussian_mixture"}));
  cmd->add_option("--mixtures", c.mixtures, "Components of a mixture output (default 10 logistics, 1 Gaussian)");
  cmd->add_option("--preemphasis", c.preemphasis, "Code x[n] - A x[n-1] instead of the audio (LPCNet's pre-emphasis)")
      ->check(CLI::Range(0.0, 0.99));
  cmd->callback([o, cmd] {
    ModelConfig config = o->config;
    if (!o->config_file.empty() && o->vocoder) throw Error("give --vocoder or --config, not both");
    if (!o->config_file.empty() || o->vocoder) {
      config = o->vocoder ? default_vocoder_config() : read_config_file(o->config_file);
      // Flags given on the command line win over the file.
      const ModelConfig& f = o->config;
      auto take = [&](const char* flag, auto& field, auto value) {
        if (cmd->count(flag) > 0) field = value;
      };
      take("--blocks", config.blocks, f.blocks);
      take("--layers-per-block", config.layers_per_block, f.layers_per_block);
      take("--residual-channels", config.residual_channels, f.residual_channels);
      take("--dilation-channels", config.dilation_channels, f.dilation_channels);
      take("--skip-channels", config.skip_channels, f.skip_channels);
      take("--end-channels", config.end_channels, f.end_channels);
      take("--classes", config.classes, f.classes);
      take("--kernel-size", config.kernel_size, f.kernel_size);
      take("--bias", config.bias, f.bias);
      take("--sample-rate", config.sample_rate, f.sample_rate);
      take("--speakers", config.speakers, f.speakers);
      take("--global-channels", config.global_channels, f.global_channels);
      take("--local-channels", config.local_channels, f.local_channels);
      take("--local-hop", config.local_hop, f.local_hop);
      take("--upsample-scales", config.upsample_scales, f.upsample_scales);
      take("--upsample-freq-kernel", config.upsample_freq_kernel, f.upsample_freq_kernel);
      take("--cin-pad", config.cin_pad, f.cin_pad);
      take("--preemphasis", config.preemphasis, f.preemphasis);
    }
    if (cmd->count("--cin-pad") > 0) config.upsample_conv_in = true;
    if (!o->distribution.empty()) config.output = parse_output(o->distribution);
    if (config.output != ModelConfig::Output::kSoftmax) {
      if (cmd->count("--classes") == 0) config.classes = 65536;
      config.mixtures = cmd->count("--mixtures") > 0                                ? o->config.mixtures
                        : config.mixtures > 0                                        ? config.mixtures
                        : config.output == ModelConfig::Output::kLogisticMixture ? 10
                                                                                     : 1;
    }
    const Model model = Model::random(config, parse_seed(o->seed));
    model.save(o->out);
    std::printf("wrote %s: %lld parameters, receptive field %d\n", o->out.c_str(),
                static_cast<long long>(model.parameter_count()), config.receptive_field());
  });
}

}  // namespace fastwave::cli
