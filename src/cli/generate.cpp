// fastwave generate: sample audio from a model and write it as a WAV file.
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "io/output_file.h"

namespace fastwave::cli {
namespace {

// The --ids-out text, streamed as ids arrive: 32 per line, as write_ids() lays them out.
class IdsText {
 public:
  explicit IdsText(const std::string& path) : output_(path) {}
  void append(std::span<const int> ids) {
    std::string text;
    for (int id : ids) text += std::to_string(id) + (++count_ % 32 == 0 ? '\n' : ' ');
    output_.write({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  void commit() {
    output_.write({reinterpret_cast<const uint8_t*>("\n"), 1});
    output_.commit();
  }

 private:
  io::OutputFile output_;
  int64_t count_ = 0;
};

}  // namespace

void add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate audio sample by sample");
  struct Options {
    std::string model, out, method = "fast", prime_wav, prime_ids, ids_out, local_features, seed = "0";
    int64_t samples = 0;
    double seconds = 0;
    float temperature = 1.0f;
    int speaker = -1;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("-m,--model", o->model, "Model file (default: the shipped default model)");
  cmd->add_option("-o,--output", o->out, "WAV file to write (16-bit PCM, model sample rate)")->required();
  auto* n = cmd->add_option("-n,--samples", o->samples, "Number of samples to generate")
                ->check(CLI::Range(int64_t{1}, kMaxWavSamples));
  auto* s = cmd->add_option("--seconds", o->seconds, "Seconds of audio to generate")
                ->check(CLI::Range(1e-6, 86400.0));
  n->excludes(s);
  cmd->add_option("--method", o->method, "fast (cached, O(layers) per sample) or naive (recomputes the receptive field)")
      ->check(CLI::IsMember({"fast", "naive"}))
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "Softmax temperature; 0 = greedy argmax")
      ->check(CLI::Range(0.0f, 100.0f))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed for sampling, an integer in [0, 2^64)")->capture_default_str();
  auto* pw = cmd->add_option("--prime", o->prime_wav, "Audio file to prime with (µ-law encoded, at most 10 minutes)");
  auto* pi = cmd->add_option("--prime-ids", o->prime_ids, "Text file of class ids to prime with");
  pw->excludes(pi);
  cmd->add_option("--ids-out", o->ids_out, "Also write the generated class ids to this text file");
  cmd->add_option("--speaker", o->speaker, "Speaker id, for speaker-conditioned models")
      ->check(CLI::Range(0, kMaxSpeakerFlag));
  cmd->add_option("--local-features", o->local_features, "Local conditioning features, a [frames, channels] float32 .npy");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress output");
  add_memory_limit_option(*cmd);

  cmd->callback([o] {
    GenerateOptions options;
    options.seed = parse_seed(o->seed);
    const std::string path = resolve_model_path(o->model, o->speaker >= 0);
    const Model model = Model::load(path);
    const ModelConfig& c = model.config();
    options.samples = o->samples > 0 ? o->samples : static_cast<int64_t>(std::llround(o->seconds * c.sample_rate));
    if (options.samples <= 0) throw Error("give the length with -n SAMPLES or --seconds S");
    if (options.samples > kMaxWavSamples) {
      throw Error("--seconds " + std::to_string(o->seconds) + " is more than a WAV file holds (" +
                  std::to_string(kMaxWavSamples) + " samples)");
    }
    options.temperature = o->temperature;
    if (!o->prime_wav.empty()) {
      options.prime = mulaw_encode(read_audio(o->prime_wav, c.sample_rate, {kMaxPrimeSeconds, false}), c.classes);
    }
    if (!o->prime_ids.empty()) {
      options.prime = read_ids(o->prime_ids, c.classes, size_t(kMaxPrimeSeconds * c.sample_rate));
    }
    const Conditioning conditioning = load_conditioning(c, o->speaker, o->local_features);
    const int64_t prime_length = std::max<int64_t>(1, int64_t(options.prime.size()));
    if (prime_length + options.samples - 1 > conditioning.max_samples(c)) {
      throw Error("local features cover " + std::to_string(conditioning.max_samples(c)) +
                  " samples, fewer than the prime plus the samples asked for");
    }
    auto generator = make_generator(model, o->method == "naive" ? Method::kNaive : Method::kFast, conditioning);

    // Both outputs exist (as temporaries) before any work, receive the samples as they
    // come, and appear together only when everything succeeded.
    WavWriter wav(o->out, c.sample_rate);
    std::optional<IdsText> ids_text;
    if (!o->ids_out.empty()) ids_text.emplace(o->ids_out);
    options.sink = [&](std::span<const int> ids) {
      wav.append(mulaw_decode(ids, c.classes));
      if (ids_text) ids_text->append(ids);
    };
    // A progress bar only for work that lasts: more than one second of audio.
    Progress progress("generate", c.sample_rate, !o->quiet && options.samples > c.sample_rate);
    options.progress = [&progress](int64_t done, int64_t total) { progress.update(done, total); };
    generate(*generator, c, options);
    const double seconds = progress.finish();
    if (ids_text) ids_text->commit();
    try {
      wav.commit();
    } catch (const Error&) {
      if (ids_text) std::remove(o->ids_out.c_str());  // a failed run leaves neither output
      throw;
    }

    const double audio_seconds = double(options.samples) / c.sample_rate;
    if (!o->quiet) {
      std::printf("wrote %s: %lld samples (%.2f s of audio) in %.2f s with the %s method: %.0f samples/s, "
                  "%.2fx real time (RTF %.3f)\n",
                  o->out.c_str(), static_cast<long long>(options.samples), audio_seconds, seconds, o->method.c_str(),
                  options.samples / seconds, audio_seconds / seconds, seconds / audio_seconds);
    }
  });
}

}  // namespace fastwave::cli
