// Audio files through libsndfile, rate conversion through libsoxr.
#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "fastwave/audio.h"
#include "fastwave/error.h"

namespace fastwave {

void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + path + "'");
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(temp.c_str());
      throw Error("failed writing '" + path + "' (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    throw Error("cannot write '" + path + "': " + ec.message());
  }
}

std::vector<float> read_audio(const std::string& path, int sample_rate) {
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (!file) throw Error("'" + path + "': " + sf_strerror(nullptr));
  if (info.channels < 1 || info.frames < 0 || info.samplerate <= 0) {
    sf_close(file);
    throw Error("'" + path + "': no audio channels");
  }
  std::vector<float> interleaved(size_t(info.frames) * info.channels);
  const sf_count_t got = sf_readf_float(file, interleaved.data(), info.frames);
  sf_close(file);
  std::vector<float> mono(size_t(std::max<sf_count_t>(got, 0)));
  for (size_t i = 0; i < mono.size(); ++i) {
    double sum = 0;
    for (int ch = 0; ch < info.channels; ++ch) sum += interleaved[i * info.channels + ch];
    mono[i] = static_cast<float>(sum / info.channels);
    if (!std::isfinite(mono[i])) throw Error("'" + path + "': holds NaN or Inf samples");
  }
  if (mono.empty()) throw Error("'" + path + "': no samples");
  if (info.samplerate == sample_rate) return mono;

  const double ratio = double(sample_rate) / info.samplerate;
  std::vector<float> out(size_t(std::ceil(mono.size() * ratio)) + 16);
  size_t done = 0;
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_error_t err = soxr_oneshot(info.samplerate, sample_rate, 1, mono.data(), mono.size(),
                                        nullptr, out.data(), out.size(), &done, nullptr, &quality, nullptr);
  if (err) throw Error("'" + path + "': resampling failed: " + err);
  out.resize(done);
  return out;
}

void write_wav(const std::string& path, std::span<const float> samples, int sample_rate) {
  // libsndfile writes to a temporary file, then it is renamed over `path`.
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(temp.c_str(), SFM_WRITE, &info);
  if (!file) throw Error("cannot write '" + path + "': " + sf_strerror(nullptr));
  const sf_count_t written = sf_writef_float(file, samples.data(), sf_count_t(samples.size()));
  const int close_err = sf_close(file);
  std::error_code ec;
  if (written != sf_count_t(samples.size()) || close_err != 0) {
    std::remove(temp.c_str());
    throw Error("failed writing '" + path + "'");
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    throw Error("cannot write '" + path + "': " + ec.message());
  }
}

std::vector<int> read_ids(const std::string& path, int classes) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open ids file '" + path + "'");
  std::vector<int> ids;
  std::string token;
  while (in >> token) {
    size_t used = 0;
    long value = -1;
    try {
      value = std::stol(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size() || value < 0 || value >= classes) {
      throw Error("'" + path + "': '" + token + "' is not a class id in [0, " + std::to_string(classes) + ")");
    }
    ids.push_back(static_cast<int>(value));
  }
  if (ids.empty()) throw Error("'" + path + "': no ids");
  return ids;
}

void write_ids(const std::string& path, std::span<const int> ids) {
  std::ostringstream text;
  for (size_t i = 0; i < ids.size(); ++i) text << ids[i] << ((i + 1) % 32 == 0 ? '\n' : ' ');
  text << '\n';
  const std::string s = text.str();
  write_file_atomically(path, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

}  // namespace fastwave
