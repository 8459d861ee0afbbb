// Small helpers shared by the tests.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fastwave/fastwave.h"

namespace fastwave::testing {

// A fresh directory under the system temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("fastwave_test_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline ModelConfig small_config() {
  ModelConfig c;
  c.blocks = 2;
  c.layers_per_block = 4;
  c.residual_channels = 16;
  c.dilation_channels = 24;
  c.skip_channels = 40;
  c.end_channels = 36;
  c.classes = 64;
  return c;
}

// `c` (which needs local_channels) as a small vocoder: r9y9-style upsampling with conv_in
// over 3 frames, stages 2 and 3 (hop 6) with a 3-wide frequency kernel, kernel size 3.
inline ModelConfig with_upsampling(ModelConfig c) {
  c.kernel_size = 3;
  c.local_hop = 6;
  c.upsample_scales = {2, 3};
  c.upsample_freq_kernel = 3;
  c.upsample_conv_in = true;
  c.cin_pad = 1;
  return c;
}

}  // namespace fastwave::testing
