// `fastwave train`: the training loop, free of libtorch types so that the CLI compiles
// without <torch/torch.h>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastwave/config.h"

namespace fastwave::train {

struct TrainOptions {
  std::string data_dir;        // dataset directory with metadata.csv
  std::string output;          // model file; rewritten with every new best validation NLL
  std::string checkpoint_dir;  // empty: OUTPUT without extension + ".ckpt"
  ModelConfig config;
  // Global conditioning on the metadata's speakers: sets config.speakers to their count
  // (and global_channels to 16 if unset) and writes the id -> name list beside the
  // output as OUTPUT-without-extension + ".speakers.json".
  bool speakers_from_metadata = false;
  // Start from this float model's weights and config (config flags are then ignored) with
  // a fresh optimizer; its validation NLL is the best to beat, so a worse model is never
  // exported over it. Ignored when resuming, where the checkpoint has the weights.
  std::string init_from;
  // Sets config.preemphasis, also over an --init-from model's (the shapes do not change;
  // the codes do, so its first validation is the bar in the new coding).
  std::optional<double> preemphasis;

  int64_t steps = 100000;
  int batch = 2;
  // Targets per crop. Long crops spend the receptive field (4093 samples by default)
  // of context on many targets instead of pytorch-wavenet's 1024.
  int64_t output_length = 8192;
  double lr = 1e-3;
  int64_t warmup_steps = 500;    // linear warm-up, then cosine decay to lr * min_lr_ratio
  double min_lr_ratio = 0.05;
  double clip_norm = 1.0;        // global gradient-norm clipping
  bool bf16 = false;             // bfloat16 autocast for the training forward/backward
  // Loss weight of onsets (onset_weights in dataset.h); 1 = plain NLL. Validation and the
  // logged loss stay the plain NLL.
  double onset_weight = 1;
  // Input codes are perturbed by up to this many classes (perturb_codes in dataset.h);
  // targets, validation and the logged loss stay clean. 0 = off.
  int input_noise = 0;
  // Each crop is perturbed with this probability; the rest stay clean, so runs of exact
  // silence (which perturbed pasts never show) stay in the training distribution.
  double noisy_crop_fraction = 1;
  // Validate and export an exponential moving average of the weights with this decay
  // per step (0 = off): the average over ~1 / (1 - decay) steps, kept in the checkpoint.
  double ema_decay = 0;
  int64_t valid_every = 1000;    // validation and checkpoint interval, in steps
  // Also export the model at every validation, best or not, as OUTPUT-without-extension +
  // ".stepN.fwm": for choosing by another measure than validation NLL (a vocoder by copy
  // synthesis, docs/vocoder.md).
  bool snapshots = false;
  double valid_seconds = 60;     // audio of the valid split scored per speaker (0 = all)
  bool resume = false;
  uint64_t seed = 1;
  int threads = 2;
  double max_minutes = 0;        // 0 = no limit; otherwise stop cleanly (validate, save)
  int64_t stop_after_step = 0;   // for tests: stop as if interrupted after this step
  bool quiet = false;            // no progress lines
};

struct TrainResult {
  int64_t step = 0;                    // steps done in total, including resumed ones
  double best_valid_bits = 0;          // best validation NLL, bits per sample
  std::vector<float> losses;           // training loss of each step of this run, bits
};

// Trains, checkpoints and exports; throws fastwave::Error for bad input.
TrainResult train(const TrainOptions& options);

// Times `steps` training steps (after one warm-up step) of options.config on random ids
// with options.batch and options.output_length; returns target samples per second.
double benchmark(const TrainOptions& options, int steps);

}  // namespace fastwave::train
