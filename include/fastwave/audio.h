// Audio in and out: µ-law coding, WAV files (libsndfile, libsoxr) and .npy arrays.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace fastwave {

int mulaw_encode(float x, int classes);
float mulaw_decode(int id, int classes);
std::vector<int> mulaw_encode(std::span<const float> samples, int classes);
std::vector<float> mulaw_decode(std::span<const int> ids, int classes);

// Reads any format libsndfile knows, mixes to mono and resamples (libsoxr) to
// `sample_rate`. Throws fastwave::Error naming the file on failure.
std::vector<float> read_audio(const std::string& path, int sample_rate);
// 16-bit PCM WAV, written atomically (temporary file beside `path`, then rename).
void write_wav(const std::string& path, std::span<const float> samples, int sample_rate);

// Whitespace-separated integer ids in [0, classes); throws on anything else.
std::vector<int> read_ids(const std::string& path, int classes);
void write_ids(const std::string& path, std::span<const int> ids);

// float32 C-order .npy files.
void write_npy(const std::string& path, std::span<const float> values,
               std::vector<int64_t> shape);
std::vector<float> read_npy(const std::string& path, std::vector<int64_t>* shape);

// Writes `bytes` to `path` atomically; used by every output of the project.
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace fastwave
