// fastwave eval: teacher-forced NLL of audio under a model and, with --ref, how far the
// model (a quantized one, say) is from a reference model: KL, top-1 agreement, NLL change.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {
namespace {

struct FileResult {
  std::string name;
  Fidelity fidelity;  // without a reference only positions and nll_bits are set
};

void write_text(const std::string& path, const std::string& text) {
  write_file_atomically(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

nlohmann::json to_json(const FileResult& r, bool with_ref) {
  const Fidelity& f = r.fidelity;
  nlohmann::json j = {{"file", r.name}, {"positions", f.positions}, {"nll_bits", f.nll_bits}};
  if (with_ref) {
    j["reference_nll_bits"] = f.reference_nll_bits;
    j["nll_change"] = f.nll_change();
    j["kl_mean"] = f.kl_mean;
    j["kl_p50"] = f.kl_p50;
    j["kl_p90"] = f.kl_p90;
    j["kl_p99"] = f.kl_p99;
    j["kl_max"] = f.kl_max;
    j["top1_agreement"] = f.top1_agreement;
  }
  return j;
}

// `fastwave mel` writes whole frames only, so its features stop short of the audio's last
// partial hop: those samples are dropped (as the trainer drops them). Features shorter than
// that are a mismatch between the two files.
void fit_to_features(std::vector<int>& ids, const Conditioning& conditioning, const ModelConfig& c,
                     const std::string& input, const std::string& features) {
  if (!c.has_local()) return;
  const int64_t covered = conditioning.max_samples(c);
  if (int64_t(ids.size()) <= covered) return;
  if (int64_t(ids.size()) - covered >= c.local_hop) {
    throw Error("'" + features + "': " + std::to_string(conditioning.local_frames) + " frames cover " +
                std::to_string(covered) + " samples, but '" + input + "' has " + std::to_string(ids.size()) +
                " (features of another file? or pass --max-seconds)");
  }
  ids.resize(size_t(covered));
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Teacher-forced NLL (bits/sample); with --ref, KL and top-1 against a reference");
  struct Options {
    std::string model, ref, wav, ids, dir, logits_out, local_features, json, csv;
    int speaker = -1;
    int threads = 0;
    double max_seconds = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("-m,--model", o->model, "Model file (default: the shipped default model)");
  cmd->add_option("--ref", o->ref, "Reference model (e.g. the float original): report KL, top-1 and NLL change");
  auto* w = cmd->add_option("--wav", o->wav, "Audio file to score (resampled to the model rate)");
  auto* i = cmd->add_option("--ids", o->ids, "Text file of class ids to score");
  auto* d = cmd->add_option("--dir", o->dir, "Score every .wav below this directory");
  w->excludes(i)->excludes(d);
  i->excludes(d);
  cmd->add_option("--logits-out", o->logits_out,
                  "Write teacher-forced logits as float32 .npy [positions, classes]; row t predicts id t+1");
  cmd->add_option("--speaker", o->speaker, "Speaker id, for speaker-conditioned models")->check(CLI::Range(0, kMaxSpeakerFlag));
  cmd->add_option("--local-features", o->local_features, "Local conditioning features, a [frames, channels] float32 .npy")
      ;
  cmd->add_option("--threads", o->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 256));
  cmd->add_option("--max-seconds", o->max_seconds, "Score at most the first S seconds of each file")
      ->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--json", o->json, "Also write per-file and total results as JSON");
  cmd->add_option("--csv", o->csv, "Also write per-file and total results as CSV");
  add_memory_limit_option(*cmd);

  cmd->callback([o] {
    if (o->wav.empty() && o->ids.empty() && o->dir.empty()) throw Error("give the audio with --wav FILE, --ids FILE or --dir DIR");
    if (!o->dir.empty() && !o->logits_out.empty()) throw Error("--logits-out takes a single --wav or --ids input");
    const auto t0 = std::chrono::steady_clock::now();
    const Model model = Model::load(resolve_model_path(o->model, o->speaker >= 0));
    const ModelConfig& c = model.config();
    std::optional<Model> reference;
    if (!o->ref.empty()) {
      reference = Model::load(o->ref);
      if (reference->config().to_json() != c.to_json()) throw Error("--ref has a different config from the model");
    }
    const Conditioning conditioning = load_conditioning(c, o->speaker, o->local_features);
    const int threads = o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency()));

    std::vector<std::string> inputs = o->dir.empty() ? std::vector<std::string>{o->wav.empty() ? o->ids : o->wav}
                                                     : audio_files(o->dir);
    std::vector<FileResult> results;
    FidelityAccumulator total;
    double total_nll = 0;
    int64_t total_positions = 0;
    double audio_seconds = 0;
    for (const auto& input : inputs) {
      const AudioLimit limit{o->max_seconds > 0 ? o->max_seconds : kMaxAudioSeconds, o->max_seconds > 0};
      std::vector<int> ids = o->ids.empty() ? encode_audio(c, read_audio(input, c.sample_rate, limit))
                                            : read_ids(input, c.classes);
      if (o->max_seconds > 0) ids.resize(std::min(ids.size(), size_t(std::max(2.0, o->max_seconds * c.sample_rate))));
      fit_to_features(ids, conditioning, c, input, o->local_features);
      if (ids.size() < 2) throw Error("'" + input + "': need at least 2 samples to evaluate");
      audio_seconds += double(ids.size()) / c.sample_rate;
      // Logits stream block by block into the statistics and the .npy: memory does not
      // grow with the file.
      TeacherForcing forcing(model, ids, conditioning, threads);
      std::optional<TeacherForcing> ref_forcing;
      if (reference) ref_forcing.emplace(*reference, ids, conditioning, threads);
      std::optional<NpyWriter> npy;
      if (!o->logits_out.empty()) npy.emplace(o->logits_out, std::vector<int64_t>{forcing.rows(), c.outputs()});
      FileResult r{input, {}};
      FidelityAccumulator one;
      double bits = 0;
      int64_t first = 0, ref_first = 0;
      for (auto logits = forcing.next(&first); !logits.empty(); logits = forcing.next(&first)) {
        const std::span<const int> targets = std::span<const int>(ids).subspan(size_t(first));
        if (reference) {
          const auto ref_logits = ref_forcing->next(&ref_first);
          one.add(ref_logits, logits, targets, c);
          total.add(ref_logits, logits, targets, c);
        } else {
          bits += nll_bits(c, logits, targets) * double(logits.size() / size_t(c.outputs()));
        }
        if (npy) npy->append(logits);
      }
      if (npy) npy->commit();
      if (reference) {
        r.fidelity = one.result();
        std::printf("%s: NLL %.4f -> %.4f bits/sample (%+.2f%%), KL mean %.5f p99 %.4f nats, top-1 %.2f%%, %lld positions\n",
                    input.c_str(), r.fidelity.reference_nll_bits, r.fidelity.nll_bits, 100 * r.fidelity.nll_change(),
                    r.fidelity.kl_mean, r.fidelity.kl_p99, 100 * r.fidelity.top1_agreement,
                    static_cast<long long>(r.fidelity.positions));
      } else {
        r.fidelity.positions = forcing.rows();
        r.fidelity.nll_bits = bits / double(forcing.rows());
        std::printf("%s: NLL %.4f bits/sample over %lld positions\n", input.c_str(), r.fidelity.nll_bits,
                    static_cast<long long>(r.fidelity.positions));
      }
      total_nll += r.fidelity.nll_bits * r.fidelity.positions;
      total_positions += r.fidelity.positions;
      results.push_back(std::move(r));
    }
    FileResult all{"TOTAL", reference ? total.result() : Fidelity{}};
    if (!reference) {
      all.fidelity.positions = total_positions;
      all.fidelity.nll_bits = total_nll / std::max<int64_t>(1, total_positions);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (results.size() > 1 || reference) {
      const Fidelity& f = all.fidelity;
      if (reference) {
        std::printf("TOTAL: %zu files, %lld positions: NLL %.4f -> %.4f bits/sample (%+.2f%%), KL mean %.5f nats "
                    "(p50 %.5f, p90 %.5f, p99 %.4f, max %.3f), top-1 agreement %.2f%%\n",
                    results.size(), static_cast<long long>(f.positions), f.reference_nll_bits, f.nll_bits,
                    100 * f.nll_change(), f.kl_mean, f.kl_p50, f.kl_p90, f.kl_p99, f.kl_max, 100 * f.top1_agreement);
      } else {
        std::printf("TOTAL: %zu files, %lld positions: NLL %.4f bits/sample\n", results.size(),
                    static_cast<long long>(f.positions), f.nll_bits);
      }
    }
    std::printf("scored %.1f s of audio in %.2f s\n", audio_seconds, seconds);

    if (!o->json.empty()) {
      nlohmann::json j;
      j["model"] = o->model;
      if (reference) j["reference"] = o->ref;
      j["files"] = nlohmann::json::array();
      for (const auto& r : results) j["files"].push_back(to_json(r, bool(reference)));
      j["total"] = to_json(all, bool(reference));
      write_text(o->json, j.dump(2) + "\n");
    }
    if (!o->csv.empty()) {
      std::ostringstream csv;
      csv << "file,positions,nll_bits" << (reference ? ",reference_nll_bits,nll_change,kl_mean,kl_p50,kl_p90,kl_p99,kl_max,top1_agreement" : "") << "\n";
      results.push_back(all);
      for (const auto& r : results) {
        const Fidelity& f = r.fidelity;
        csv << '"' << r.name << "\"," << f.positions << ',' << f.nll_bits;
        if (reference) {
          csv << ',' << f.reference_nll_bits << ',' << f.nll_change() << ',' << f.kl_mean << ',' << f.kl_p50 << ','
              << f.kl_p90 << ',' << f.kl_p99 << ',' << f.kl_max << ',' << f.top1_agreement;
        }
        csv << "\n";
      }
      write_text(o->csv, csv.str());
    }
  });
}

}  // namespace fastwave::cli
