// Training data: a dataset directory with metadata.csv (speaker, gender, engine, voice,
// split, path, seconds, text; path relative to the directory), loaded as µ-law ids.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fastwave/config.h"

namespace fastwave::train {

struct Utterance {
  std::string speaker;
  std::string split;  // train, valid or test
  std::string path;   // absolute, or relative to the working directory
};

// Throws fastwave::Error for a missing directory or file, a missing column or a bad row.
std::vector<Utterance> read_metadata(const std::string& dataset_dir);

// Distinct speaker names, sorted (numerically when all are integers); speaker id = index.
std::vector<std::string> speaker_names(const std::vector<Utterance>& rows);

struct Sequence {
  std::vector<uint16_t> ids;
  int speaker = 0;  // index into speaker_names(); 0 without global conditioning
  // With local conditioning: the config's log-mel front end (MelFrontEnd) of the audio,
  // [frames][local_channels], and ids cut to frames * local_hop samples.
  std::vector<float> mel;
};

// Reads the audio of one split (resampled to config.sample_rate) as µ-law ids (and, for a
// model with local conditioning, their log-mel features, which need config.local_mel), with
// `threads` readers. Keeps at most `max_seconds` of audio per speaker (0 = all), in file
// order, cutting the last file, so that a huge valid split cannot make validation slow
// and every speaker is scored. Throws if the split is empty.
std::vector<Sequence> load_split(const std::vector<Utterance>& rows, const std::string& split,
                                 const ModelConfig& config,
                                 const std::vector<std::string>& speakers, double max_seconds,
                                 int threads);

// Draws training crops of receptive_field + output_length ids uniformly over every
// position of every sequence. Each sequence counts as preceded by receptive_field - 1
// silence ids, so crops also cover beginnings, as generation from silence does, and the
// targets are exactly ids 1..n-1 of each sequence, the positions `fastwave eval` scores.
class CropSampler {
 public:
  CropSampler(const std::vector<Sequence>& sequences, const ModelConfig& config,
              int64_t output_length);
  int64_t crop_length() const { return crop_length_; }
  int64_t skipped() const { return skipped_; }  // sequences too short for one crop
  // Fills crops [batch][crop_length] and speakers [batch]; `where`, if given, [batch] with
  // the sequence and the sample index of each crop's first id (negative in the padding).
  struct Where {
    const Sequence* sequence = nullptr;
    int64_t start = 0;
  };
  void sample(std::mt19937_64& rng, int batch, int64_t* crops, int64_t* speakers,
              Where* where = nullptr) const;

 private:
  const std::vector<Sequence>& sequences_;
  int64_t pad_, crop_length_, skipped_ = 0;
  int silence_;
  std::vector<int64_t> cumulative_;  // crop starts in sequences 0..i inclusive
  std::vector<size_t> index_;        // sequence behind each entry of cumulative_
};

// Per-sample loss weights that put `weight` on onsets and 1 elsewhere. An onset is the
// first 30 ms of sound after at least 50 ms of quiet (10 ms frames, counted from ids[0],
// below -45 dBFS): tools/onset_nll.py's definition. Onsets are ~2% of speech and the
// transition a speech model learns last; weighting them is meant to keep low temperatures
// from settling in the pause (models/README.md, "Why the speech model fell silent", says
// what one session of it measured).
std::vector<float> onset_weights(const ModelConfig& config, const int64_t* ids, int64_t n,
                                 float weight);

// Adds an integer drawn uniformly from [-noise, noise] to each of ids[0..n), clamped to
// [0, classes). Training feeds the network such noisy codes as its past while the targets
// stay clean (LPCNet's noise injection): free-running generation feeds the network its own
// samples, which teacher forcing never shows it, so a network that learned to trust its
// past exactly has no reason to lean on its conditioning instead.
void perturb_codes(std::mt19937_64& rng, int classes, int noise, int64_t* ids, int64_t n);

}  // namespace fastwave::train
