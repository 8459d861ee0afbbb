// fastwave eval: teacher-forced negative log-likelihood of audio under a model.
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"

namespace fastwave::cli {

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Teacher-forced NLL (bits/sample) of audio under a model");
  struct Options {
    std::string model, wav, ids, logits_out, local_features;
    int speaker = -1;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("-m,--model", o->model, "Model file (default: the shipped default model)");
  auto* w = cmd->add_option("--wav", o->wav, "Audio file to score (resampled to the model rate)")->check(CLI::ExistingFile);
  auto* i = cmd->add_option("--ids", o->ids, "Text file of class ids to score")->check(CLI::ExistingFile);
  w->excludes(i);
  cmd->add_option("--logits-out", o->logits_out,
                  "Write teacher-forced logits as float32 .npy [positions, classes]; row t predicts id t+1");
  cmd->add_option("--speaker", o->speaker, "Speaker id, for speaker-conditioned models")->check(CLI::NonNegativeNumber);
  cmd->add_option("--local-features", o->local_features, "Local conditioning features, a [frames, channels] float32 .npy")
      ->check(CLI::ExistingFile);
  cmd->add_option("--threads", o->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 256));

  cmd->callback([o] {
    if (o->wav.empty() && o->ids.empty()) throw Error("give the audio with --wav FILE or --ids FILE");
    const std::string path = resolve_model_path(o->model);
    const Model model = Model::load(path);
    const ModelConfig& c = model.config();
    const std::vector<int> ids = o->wav.empty() ? read_ids(o->ids, c.classes)
                                                : mulaw_encode(read_audio(o->wav, c.sample_rate), c.classes);
    const Conditioning conditioning = load_conditioning(c, o->speaker, o->local_features);
    const int threads = o->threads > 0 ? o->threads : std::max(1u, std::thread::hardware_concurrency());
    Progress timer("eval", c.sample_rate, false);
    std::vector<float> logits;
    const EvalResult result = evaluate(model, ids, conditioning, threads, o->logits_out.empty() ? nullptr : &logits);
    const double seconds = timer.finish();
    if (!o->logits_out.empty()) write_npy(o->logits_out, logits, {result.positions, c.classes});
    std::printf("%s: NLL %.4f bits/sample over %lld positions (%.1f s of audio, scored in %.2f s)\n",
                (o->wav.empty() ? o->ids : o->wav).c_str(), result.nll_bits_per_sample,
                static_cast<long long>(result.positions), double(ids.size()) / c.sample_rate, seconds);
  });
}

}  // namespace fastwave::cli
