// Audio in and out: µ-law coding, audio files (libsndfile, libsoxr), ids and .npy arrays.
// Readers treat their files as hostile: only regular files are opened, memory follows what
// was actually read (never a size claimed by a header), and every limit below is checked
// before allocating. Writers go through one safe path (src/io/output_file.h): a
// temporary created exclusively beside the target, renamed over it only when complete;
// an existing target that is not a regular file (device, FIFO, directory, symlink) is refused.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastwave {

int mulaw_encode(float x, int classes);
float mulaw_decode(int id, int classes);
std::vector<int> mulaw_encode(std::span<const float> samples, int classes);
std::vector<float> mulaw_decode(std::span<const int> ids, int classes);

// Audio inputs are at most this long unless a caller says otherwise (1 hour: 230 MB of
// floats at 16 kHz).
inline constexpr double kMaxAudioSeconds = 3600;
// Rate conversion may multiply the number of samples by at most this (1 kHz -> 16 kHz).
inline constexpr int kMaxUpsampling = 16;

struct AudioLimit {
  double max_seconds = kMaxAudioSeconds;  // after resampling
  bool truncate = false;                  // false: a longer file is an error
};

// Reads any format libsndfile knows, incrementally, mixes to mono and resamples (libsoxr)
// to `sample_rate`. Throws fastwave::Error naming the file on failure, on NaN/Inf samples,
// on a rate needing more than kMaxUpsampling, and on audio longer than the limit.
std::vector<float> read_audio(const std::string& path, int sample_rate, const AudioLimit& limit = {});

// A 16-bit PCM mono WAV can hold this many samples (its RIFF sizes are 32-bit).
inline constexpr int64_t kMaxWavSamples = (int64_t{0xFFFFFFFF} - 44) / 2;

// 16-bit PCM WAV written as it is produced; the file appears only at commit().
class WavWriter {
 public:
  WavWriter(const std::string& path, int sample_rate);
  ~WavWriter();  // without commit(): nothing is left behind
  void append(std::span<const float> samples);
  void commit();

 private:
  struct State;
  std::unique_ptr<State> state_;
};
// The whole WAV at once, through WavWriter.
void write_wav(const std::string& path, std::span<const float> samples, int sample_rate);

// Whitespace-separated integer ids in [0, classes); throws on anything else, and on more
// than max_ids of them.
inline constexpr size_t kMaxIds = size_t{1} << 28;
std::vector<int> read_ids(const std::string& path, int classes, size_t max_ids = kMaxIds);
std::vector<int> parse_ids(std::string_view text, int classes, size_t max_ids, const std::string& name);
void write_ids(const std::string& path, std::span<const int> ids);

// float32 C-order .npy files (format version 1.0).
void write_npy(const std::string& path, std::span<const float> values, std::vector<int64_t> shape);
// Checks the header's shape against the file's size before allocating anything.
std::vector<float> read_npy(const std::string& path, std::vector<int64_t>* shape);

// A float32 .npy read a few rows at a time, from a file or standard input ("-"): the
// header first, then rows as they arrive, so a pipe is used while it is being written and
// memory follows the rows asked for, not the file.
class NpyReader {
 public:
  // Reads and checks the header (a file's size against its shape, too). Throws
  // fastwave::Error naming the file.
  explicit NpyReader(const std::string& path);
  ~NpyReader();
  const std::vector<int64_t>& shape() const;
  int64_t rows() const;        // shape[0]
  int64_t row_values() const;  // the product of the other dimensions
  // The next min(rows, what is left) rows; throws if the input ends early, or (standard
  // input) holds more than the shape says once the last row is read.
  std::vector<float> read_rows(int64_t rows);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A float32 .npy of a known shape whose rows arrive in order (e.g. logits chunk by chunk).
class NpyWriter {
 public:
  NpyWriter(const std::string& path, std::vector<int64_t> shape);
  ~NpyWriter();
  void append(std::span<const float> values);
  // Throws unless exactly the shape's number of values was appended.
  void commit();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes `bytes` to `path` atomically and safely (see the top of this file).
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace fastwave
