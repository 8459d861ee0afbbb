// fastwave mel: the log-mel features a vocoder takes, from audio, as a [frames, bands] .npy.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {

void add_mel_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("mel", "Compute a vocoder's log-mel features from audio");
  struct Options {
    std::string input, out, model;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("input", o->input, "Audio file (resampled to the vocoder's sample rate)")->required();
  cmd->add_option("-o,--output", o->out, "float32 .npy to write, shape [frames, bands]; - for standard output (a pipe into fastwave vocode --mel -)")->required();
  cmd->add_option("-m,--model", o->model,
                  "Vocoder whose front end (local_mel in its config) to use (default: that of `fastwave init --vocoder`)");
  cmd->add_flag("-q,--quiet", o->quiet, "No summary line");
  cmd->callback([o] {
    ModelConfig config = default_vocoder_config();
    if (!o->model.empty()) {
      config = Model::load(o->model).config();
      if (!config.local_mel) throw Error("'" + o->model + "' records no mel front end (local_mel): it is not a vocoder");
    }
    const MelFrontEnd front_end(config);
    const std::vector<float> audio = read_audio(o->input, config.sample_rate);
    const int64_t frames = front_end.frames(int64_t(audio.size()));
    if (frames < 1) {
      throw Error("'" + o->input + "' is shorter than one frame (" + std::to_string(front_end.hop()) + " samples)");
    }
    write_npy(o->out, front_end.compute(audio), {frames, front_end.bands()});
    if (!o->quiet) {
      // With the features on standard output, the summary goes to standard error.
      std::fprintf(o->out == "-" ? stderr : stdout, "wrote %s: %lld frames x %d bands (%.2f s of audio at %d Hz, hop %d)\n", o->out.c_str(),
                  static_cast<long long>(frames), front_end.bands(), double(audio.size()) / config.sample_rate,
                  config.sample_rate, front_end.hop());
    }
  });
}

}  // namespace fastwave::cli
