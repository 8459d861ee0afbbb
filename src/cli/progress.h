// A progress line on stderr for long work: rate, real-time factor and ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fastwave::cli {

class Progress {
 public:
  // `sample_rate` turns samples/s into a real-time multiple; `enabled` false prints nothing.
  Progress(std::string label, int sample_rate, bool enabled);
  void update(int64_t done, int64_t total);
  // Ends the line; returns elapsed seconds.
  double finish();

 private:
  std::string label_;
  int sample_rate_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int last_quarter_ = 0;
  bool printed_ = false;
};

}  // namespace fastwave::cli
