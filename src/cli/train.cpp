// fastwave train: trains a model with libtorch (built with -DFASTWAVE_TRAINING=ON).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "train/trainer.h"

namespace fastwave::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model on a dataset directory (metadata.csv)");
  struct Options {
    train::TrainOptions train;
    std::string config_file;
    int benchmark_steps = 0;
    bool vocoder = false;
    std::string distribution;
    double preemphasis = 0;
  };
  auto o = std::make_shared<Options>();
  train::TrainOptions& t = o->train;
  cmd->add_option("--data", t.data_dir, "Dataset directory with metadata.csv");
  cmd->add_option("-o,--output", t.output, "Model file; rewritten at every new best validation NLL");
  cmd->add_option("--config,--config-json", o->config_file,
                  "JSON config file (keys as in docs/model-format.md); flags override it");

  // Config flags: remembered so that only the ones given override --config.
  ModelConfig& c = t.config;
  using M = ModelConfig;
  const std::vector<std::pair<std::string, int M::*>> int_flags = {
      {"--blocks", &M::blocks}, {"--layers-per-block", &M::layers_per_block},
      {"--residual-channels", &M::residual_channels},
      {"--dilation-channels", &M::dilation_channels}, {"--skip-channels", &M::skip_channels},
      {"--end-channels", &M::end_channels}, {"--classes", &M::classes},
      {"--kernel-size", &M::kernel_size}, {"--sample-rate", &M::sample_rate},
      {"--speakers", &M::speakers}, {"--global-channels", &M::global_channels}};
  for (const auto& [flag, field] : int_flags) cmd->add_option(flag, c.*field)->capture_default_str();
  cmd->get_option("--speakers")->description("Global conditioning on this many speakers (ids: sorted metadata names)");
  cmd->get_option("--global-channels")->description("Speaker embedding width (16 if 0 with --speakers-from-metadata)");
  cmd->add_flag("--bias", c.bias, "Biases on start, filter, gate, residual and skip convs");
  cmd->add_flag("--speakers-from-metadata", t.speakers_from_metadata,
                "Condition on the metadata's speakers (sorted names -> ids 0..n-1, listed in "
                "OUTPUT.speakers.json)");

  cmd->add_option("--steps", t.steps, "Training steps")->capture_default_str();
  cmd->add_option("--batch", t.batch, "Crops per step")->capture_default_str();
  cmd->add_option("--output-length", t.output_length, "Target samples per crop")->capture_default_str();
  cmd->add_option("--lr", t.lr, "Peak learning rate (Adam)")->capture_default_str();
  cmd->add_option("--warmup-steps", t.warmup_steps, "Linear warm-up, then cosine decay")->capture_default_str();
  cmd->add_option("--clip-norm", t.clip_norm, "Gradient-norm clipping")->capture_default_str();
  cmd->add_option("--onset-weight", t.onset_weight,
                  "Loss weight of onsets (the first 30 ms of sound after 50 ms of quiet; "
                  "validation stays plain NLL)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 100.0));
  cmd->add_option("--input-noise", t.input_noise,
                  "Perturb each input code by up to this many classes (uniform; targets and "
                  "validation stay clean): noise injection, so a vocoder leans on its features")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--noisy-crop-fraction", t.noisy_crop_fraction,
                  "Perturb each crop with this probability (the rest stay clean)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--ema", t.ema_decay,
                  "Validate and export the exponential moving average of the weights with this "
                  "decay per step, e.g. 0.999 (0 = off; the average is kept in the checkpoint)")
      ->capture_default_str();
  cmd->add_flag("--bf16", t.bf16, "Mixed precision: bfloat16 convs in training steps (validation stays float32)");
  cmd->add_option("--valid-every", t.valid_every, "Validate, checkpoint and maybe export every N steps")
      ->capture_default_str();
  cmd->add_flag("--snapshots", t.snapshots,
                "Also export every validation's model, best or not, to OUTPUT.stepN.fwm (to choose "
                "a vocoder by copy synthesis)");
  cmd->add_option("--valid-seconds", t.valid_seconds, "Seconds of the valid split scored per speaker (0 = all)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-dir", t.checkpoint_dir, "Checkpoint directory (default: OUTPUT.ckpt)");
  cmd->add_option("--init-from", t.init_from,
                  "Start from this float model (its config; a fresh optimizer); the model is "
                  "only replaced when validation beats it");
  cmd->add_flag("--resume", t.resume, "Continue from the checkpoint in the checkpoint directory");
  cmd->add_option("--seed", t.seed, "Random seed (initial weights, crops)")->capture_default_str();
  cmd->add_option("--threads", t.threads, "Torch threads")->capture_default_str();
  cmd->add_option("--max-minutes", t.max_minutes, "Stop cleanly after this long (0 = no limit)");
  cmd->add_flag("--quiet", t.quiet, "No progress lines");
  cmd->add_option("--output-distribution", o->distribution,
                  "softmax (µ-law classes), logistic_mixture or gaussian_mixture (r9y9's outputs: a scalar "
                  "input and 16-bit samples; sets --classes 65536)")
      ->check(CLI::IsMember({"softmax", "logistic_mixture", "gaussian_mixture"}));
  cmd->add_option("--preemphasis", o->preemphasis,
                  "Model x[n] - A x[n-1] instead of the audio (LPCNet's pre-emphasis, e.g. 0.85; "
                  "generation undoes it); also over an --init-from model's setting")
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--mixtures", c.mixtures, "Components of a mixture output (default 10 logistics, 1 Gaussian)");
  cmd->add_flag("--vocoder", o->vocoder,
                "Train a vocoder: the config of `fastwave init --vocoder` (mel features computed from "
                "the audio by its front end); flags override it");
  cmd->add_option("--benchmark-steps", o->benchmark_steps,
                  "Only time N training steps on random ids (no --data needed); prints targets/s");

  cmd->callback([o, cmd, int_flags] {
    train::TrainOptions options = o->train;
    if (!o->config_file.empty() && o->vocoder) throw Error("give --vocoder or --config, not both");
    if (!o->config_file.empty() || o->vocoder) {
      options.config = o->vocoder ? default_vocoder_config() : read_config_file(o->config_file);
      // Flags given on the command line win over the file.
      for (const auto& [flag, field] : int_flags) {
        if (cmd->count(flag) > 0) options.config.*field = o->train.config.*field;
      }
      if (cmd->count("--bias") > 0) options.config.bias = o->train.config.bias;
    }
    if (cmd->count("--preemphasis") > 0) options.preemphasis = o->preemphasis;
    if (!o->distribution.empty()) options.config.output = parse_output(o->distribution);
    if (options.config.output != ModelConfig::Output::kSoftmax) {
      if (cmd->count("--classes") == 0) options.config.classes = 65536;
      if (cmd->count("--mixtures") > 0) options.config.mixtures = o->train.config.mixtures;
      if (options.config.mixtures == 0) {
        options.config.mixtures = options.config.output == ModelConfig::Output::kLogisticMixture ? 10 : 1;
      }
    }
    if (o->benchmark_steps > 0) {
      const double rate = train::benchmark(options, o->benchmark_steps);
      std::printf("fastwave: %d steps of %d x %lld targets (crops %lld)\n", o->benchmark_steps,
                  options.batch, static_cast<long long>(options.output_length),
                  static_cast<long long>(options.config.receptive_field() + options.output_length));
      std::printf("fastwave_targets_per_s %.1f\n", rate);
      return;
    }
    if (options.data_dir.empty()) throw Error("give the dataset directory with --data DIR");
    if (options.output.empty()) throw Error("give the model file to write with -o FILE");
    const train::TrainResult result = train::train(options);
    std::printf("trained to step %lld; best valid NLL %.4f bits/sample, exported to %s\n",
                static_cast<long long>(result.step), result.best_valid_bits,
                options.output.c_str());
  });
}

}  // namespace fastwave::cli
