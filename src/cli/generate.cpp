// fastwave generate: sample audio from a model and write it as a WAV file.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <memory>

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
    std::string model, out, prime_wav, prime_ids, ids_out, local_features;
    SamplingFlags sampling;
    int64_t samples = 0;
    double seconds = 0;
    int speaker = -1;
    int streams = 1, threads = 1;
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
  add_sampling_options(*cmd, o->sampling);
  auto* pw = cmd->add_option("--prime", o->prime_wav, "Audio file to prime with (encoded as the model codes samples, at most 10 minutes)");
  auto* pi = cmd->add_option("--prime-ids", o->prime_ids, "Text file of class ids to prime with");
  pw->excludes(pi);
  cmd->add_option("--ids-out", o->ids_out, "Also write the generated class ids to this text file");
  cmd->add_option("--speaker", o->speaker, "Speaker id, for speaker-conditioned models")
      ->check(CLI::Range(0, kMaxSpeakerFlag));
  cmd->add_option("--local-features", o->local_features, "Local conditioning features, a [frames, channels] float32 .npy");
  cmd->add_option("--streams", o->streams,
                  "Generate this many streams over one copy of the weights (seeds SEED, SEED+1, ...), "
                  "written to OUT_0.wav, OUT_1.wav, ...")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads splitting the streams")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_flag("-q,--quiet", o->quiet, "No progress output");
  add_memory_limit_option(*cmd);

  cmd->callback([o] {
    GenerateOptions options;
    options.seed = parse_seed(o->sampling.seed);
    const std::string path = resolve_model_path(o->model, o->speaker >= 0);
    const Model model = Model::load(path);
    const ModelConfig& c = model.config();
    options.samples = o->samples > 0 ? o->samples : static_cast<int64_t>(std::llround(o->seconds * c.sample_rate));
    if (options.samples <= 0) throw Error("give the length with -n SAMPLES or --seconds S");
    if (options.samples > kMaxWavSamples) {
      throw Error("--seconds " + std::to_string(o->seconds) + " is more than a WAV file holds (" +
                  std::to_string(kMaxWavSamples) + " samples)");
    }
    options.temperature = o->sampling.temperature;
    if (!o->prime_wav.empty()) {
      options.prime = encode_audio(c, read_audio(o->prime_wav, c.sample_rate, {kMaxPrimeSeconds, false}));
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
    const Method method = o->sampling.parsed_method();
    if (o->streams > 1 && method == Method::kNaive) throw Error("--streams needs the fast method");
    if (o->streams > 1 && options.seed > UINT64_MAX - uint64_t(o->streams - 1)) {
      throw Error("--seed plus --streams - 1 must stay below 2^64");
    }
    const auto network = Network::build(model);

    // Every output exists (as a temporary) before any work, receives the samples as they
    // come, and appears only when everything succeeded: OUT.wav, or OUT_b.wav for stream b.
    auto numbered = [&](const std::string& file, int b) { return numbered_path(file, b, o->streams); };
    std::vector<std::unique_ptr<WavWriter>> wavs;
    std::vector<std::unique_ptr<IdsText>> ids_texts;
    // The output continues the prime, so de-emphasis starts from where the prime left it.
    AudioDecoder after_prime(c);
    after_prime.decode(options.prime);
    std::vector<AudioDecoder> decoders(o->streams, after_prime);
    for (int b = 0; b < o->streams; ++b) {
      wavs.push_back(std::make_unique<WavWriter>(numbered(o->out, b), c.sample_rate));
      if (!o->ids_out.empty()) ids_texts.push_back(std::make_unique<IdsText>(numbered(o->ids_out, b)));
    }
    auto write = [&](int b, std::span<const int> ids) {
      wavs[b]->append(decoders[b].decode(ids));
      if (!ids_texts.empty()) ids_texts[b]->append(ids);
    };
    // A progress bar only for work that lasts: more than one second of audio.
    Progress progress("generate", c.sample_rate, !o->quiet && options.samples * o->streams > c.sample_rate);
    options.progress = [&progress](int64_t done, int64_t total) { progress.update(done, total); };
    if (o->streams == 1) {
      auto generator = make_generator(network, method, conditioning);
      options.sink = [&](std::span<const int> ids) { write(0, ids); };
      generate(*generator, c, options);
    } else {
      std::vector<StreamRequest> requests(o->streams);
      for (int b = 0; b < o->streams; ++b) {
        requests[b] = {conditioning, options.prime, options.samples, options.temperature, options.seed + uint64_t(b)};
      }
      const auto ids = generate_streams(*network, requests, {o->threads, options.progress});
      for (int b = 0; b < o->streams; ++b) write(b, ids[b]);
    }
    const double seconds = progress.finish();
    for (auto& text : ids_texts) text->commit();
    try {
      for (auto& wav : wavs) wav->commit();
    } catch (const Error&) {
      // A failed run leaves no ids without their audio.
      for (int b = 0; b < int(ids_texts.size()); ++b) std::remove(numbered(o->ids_out, b).c_str());
      throw;
    }

    const int64_t total = options.samples * o->streams;
    const double audio_seconds = double(total) / c.sample_rate;
    if (!o->quiet) {
      std::printf("wrote %s: %lld samples (%.2f s of audio%s) in %.2f s with the %s method: %.0f samples/s, "
                  "%.2fx real time (RTF %.3f)\n",
                  o->streams == 1 ? o->out.c_str() : (numbered(o->out, 0) + " ...").c_str(),
                  static_cast<long long>(total), audio_seconds,
                  o->streams == 1 ? "" : (" in " + std::to_string(o->streams) + " streams").c_str(), seconds,
                  o->sampling.method.c_str(), total / seconds, audio_seconds / seconds, seconds / audio_seconds);
    }
  });
}

}  // namespace fastwave::cli
