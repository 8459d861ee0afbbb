#include "train/dataset.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "fastwave/audio.h"
#include "fastwave/distribution.h"
#include "fastwave/error.h"
#include "fastwave/vocoder.h"

namespace fastwave::train {
namespace fs = std::filesystem;
namespace {

// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines (the text
// column is free text).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch != '"') field += ch;
      else if (i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else quoted = false;
    } else if (ch == '"') {
      quoted = any = true;
    } else if (ch == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty() || !record.empty()) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
      }
      record.clear();
      field.clear();
      any = false;
    } else {
      field += ch;
      any = true;
    }
  }
  if (quoted) throw Error("unterminated quote");
  if (any || !field.empty() || !record.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

bool is_integer(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), ::isdigit);
}

}  // namespace

std::vector<Utterance> read_metadata(const std::string& dataset_dir) {
  if (!fs::is_directory(dataset_dir)) throw Error("data directory not found: " + dataset_dir);
  const fs::path csv = fs::path(dataset_dir) / "metadata.csv";
  std::ifstream in(csv, std::ios::binary);
  if (!in) throw Error("cannot read " + csv.string());
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::vector<std::string>> records;
  try {
    records = parse_csv(text.str());
  } catch (const Error& e) {
    throw Error(csv.string() + ": " + e.what());
  }
  if (records.empty()) throw Error(csv.string() + " is empty");
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < records[0].size(); ++i) column[records[0][i]] = i;
  for (const char* name : {"speaker", "split", "path"}) {
    if (!column.count(name)) throw Error(csv.string() + ": no '" + name + "' column");
  }
  std::vector<Utterance> rows;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (rec.size() != records[0].size()) {
      throw Error(csv.string() + ": record " + std::to_string(r + 1) + " has " +
                  std::to_string(rec.size()) + " fields, the header " +
                  std::to_string(records[0].size()));
    }
    rows.push_back({rec[column["speaker"]], rec[column["split"]],
                    (fs::path(dataset_dir) / rec[column["path"]]).string()});
  }
  return rows;
}

std::vector<std::string> speaker_names(const std::vector<Utterance>& rows) {
  std::vector<std::string> names;
  for (const auto& r : rows) names.push_back(r.speaker);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (std::all_of(names.begin(), names.end(), is_integer)) {
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return std::stol(a) < std::stol(b);
    });
  }
  return names;
}

std::vector<Sequence> load_split(const std::vector<Utterance>& rows, const std::string& split,
                                 const ModelConfig& config,
                                 const std::vector<std::string>& speakers, double max_seconds,
                                 int threads) {
  std::vector<const Utterance*> files;
  for (const auto& r : rows) {
    if (r.split == split) files.push_back(&r);
  }
  if (files.empty()) throw Error("the dataset has no '" + split + "' files");

  std::unique_ptr<MelFrontEnd> front_end;
  if (config.has_local()) {
    if (!config.local_mel) throw Error("training with local conditioning needs local_mel (the mel front end) in the config");
    front_end = std::make_unique<MelFrontEnd>(config);
  }
  std::vector<Sequence> sequences(files.size());
  std::vector<std::string> errors(files.size());
  std::atomic<size_t> next{0};
  // The budget holds per speaker, so a multi-speaker valid split scores every speaker.
  const int64_t budget = int64_t(max_seconds * config.sample_rate);
  std::map<std::string, int64_t> loaded;
  std::mutex loaded_mutex;
  auto wanted = [&](const std::string& speaker) {
    const std::lock_guard lock(loaded_mutex);
    return budget <= 0 || loaded[speaker] < budget;
  };
  // Decoding and resampling dominate start-up; files are independent.
  auto worker = [&] {
    for (size_t i; (i = next++) < files.size();) {
      if (!wanted(files[i]->speaker)) continue;
      try {
        std::vector<float> audio = read_audio(files[i]->path, config.sample_rate);
        if (front_end) {
          // The features cover whole frames: the samples past the last one are dropped
          // (or, with librosa's framing, zeros added up to its extra frame).
          sequences[i].mel = front_end->features_of(audio);
        }
        const auto ids = encode_audio(config, audio);
        sequences[i].ids.assign(ids.begin(), ids.end());
        const std::lock_guard lock(loaded_mutex);
        loaded[files[i]->speaker] += int64_t(ids.size());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
      if (!speakers.empty()) {
        sequences[i].speaker = int(std::find(speakers.begin(), speakers.end(),
                                             files[i]->speaker) - speakers.begin());
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (!e.empty()) throw Error(e);
  }

  // Apply the budget in file order so the subset does not depend on thread timing.
  std::vector<Sequence> kept;
  std::map<std::string, int64_t> total;
  for (size_t i = 0; i < sequences.size(); ++i) {
    Sequence& s = sequences[i];
    int64_t& sum = total[files[i]->speaker];
    if (budget > 0 && sum >= budget) continue;
    if (budget > 0 && sum + int64_t(s.ids.size()) > budget) {
      int64_t keep = budget - sum;
      if (!s.mel.empty()) {  // whole frames, so ids and features still match
        const int64_t frames = (keep + config.local_hop - 1) / config.local_hop;
        keep = std::min<int64_t>(frames * config.local_hop, int64_t(s.ids.size()));
        s.mel.resize(size_t(keep / config.local_hop) * config.local_channels);
      }
      s.ids.resize(keep);
    }
    sum += int64_t(s.ids.size());
    if (s.ids.size() >= 2) kept.push_back(std::move(s));
  }
  if (kept.empty()) throw Error("the '" + split + "' split has no audio");
  return kept;
}

CropSampler::CropSampler(const std::vector<Sequence>& sequences, const ModelConfig& config,
                         int64_t output_length)
    : sequences_(sequences),
      pad_(config.receptive_field() - 1),
      crop_length_(config.receptive_field() + output_length),
      silence_(config.classes / 2) {
  int64_t total = 0;
  for (size_t i = 0; i < sequences.size(); ++i) {
    // Starts in padded coordinates: 0 .. pad + n - crop_length.
    const int64_t starts = pad_ + int64_t(sequences[i].ids.size()) - crop_length_ + 1;
    if (starts <= 0) {
      ++skipped_;
      continue;
    }
    total += starts;
    cumulative_.push_back(total);
    index_.push_back(i);
  }
  if (cumulative_.empty()) {
    throw Error("no training file is longer than output_length + 1 = " +
                std::to_string(output_length + 1) + " samples; lower --output-length");
  }
}

void CropSampler::sample(std::mt19937_64& rng, int batch, int64_t* crops,
                         int64_t* speakers, Where* where) const {
  std::uniform_int_distribution<int64_t> pick(0, cumulative_.back() - 1);
  for (int b = 0; b < batch; ++b) {
    const int64_t r = pick(rng);
    const size_t k = std::upper_bound(cumulative_.begin(), cumulative_.end(), r) -
                     cumulative_.begin();
    const Sequence& seq = sequences_[index_[k]];
    const int64_t start = r - (k ? cumulative_[k - 1] : 0) - pad_;  // may be negative
    int64_t* out = crops + b * crop_length_;
    for (int64_t i = 0; i < crop_length_; ++i) {
      out[i] = start + i < 0 ? silence_ : seq.ids[start + i];
    }
    speakers[b] = seq.speaker;
    if (where) where[b] = {&seq, start};
  }
}

std::vector<float> onset_weights(const ModelConfig& config, const int64_t* ids, int64_t n,
                                 float weight) {
  constexpr double kQuietDbfs = -45;
  constexpr int kQuietFrames = 5, kOnsetFrames = 3;
  const int64_t frame = std::max(1, config.sample_rate / 100);
  const std::vector<float> samples = decode_codes(config, std::vector<int>(ids, ids + n));
  std::vector<bool> quiet;
  for (int64_t s = 0; s < n; s += frame) {
    const int64_t e = std::min(n, s + frame);
    double energy = 0;
    for (int64_t i = s; i < e; ++i) energy += double(samples[i]) * samples[i];
    quiet.push_back(10 * std::log10(energy / double(e - s) + 1e-18) < kQuietDbfs);
  }
  std::vector<float> weights(n, 1.0f);
  int run = 0;  // quiet frames just before frame f
  for (size_t f = 0; f < quiet.size(); ++f) {
    if (!quiet[f] && run >= kQuietFrames) {
      for (size_t g = f; g < std::min(quiet.size(), f + kOnsetFrames); ++g) {
        if (quiet[g]) continue;
        const int64_t begin = int64_t(g) * frame, end = std::min(n, begin + frame);
        std::fill(weights.begin() + begin, weights.begin() + end, weight);
      }
    }
    run = quiet[f] ? run + 1 : 0;
  }
  return weights;
}

void perturb_codes(std::mt19937_64& rng, int classes, int noise, int64_t* ids, int64_t n) {
  if (noise <= 0) return;
  std::uniform_int_distribution<int64_t> offset(-noise, noise);
  for (int64_t i = 0; i < n; ++i) ids[i] = std::clamp<int64_t>(ids[i] + offset(rng), 0, classes - 1);
}

}  // namespace fastwave::train
