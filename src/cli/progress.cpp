#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace fastwave::cli {

Progress::Progress(std::string label, int sample_rate, bool enabled)
    : label_(std::move(label)),
      sample_rate_(sample_rate),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void Progress::update(int64_t done, int64_t total) {
  if (!enabled_ || total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  // On a terminal, redraw at most 10 times a second; in a log, one line per quarter.
  const int quarter = static_cast<int>(4 * done / total);
  if (tty_ ? now - last_print_ < std::chrono::milliseconds(100) && done < total : quarter == last_quarter_) return;
  last_print_ = now;
  last_quarter_ = quarter;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total - done) / rate : 0;
  const int width = 30, filled = static_cast<int>(width * done / total);
  std::fprintf(stderr, "%s%s [%.*s%*s] %3d%% %lld/%lld  %.0f samples/s  %.2fx real time  ETA %.0fs%s",
               tty_ ? "\r" : "", label_.c_str(), filled, "##############################", width - filled, "",
               static_cast<int>(100 * done / total), static_cast<long long>(done), static_cast<long long>(total),
               rate, rate / sample_rate_, eta, tty_ ? "\x1b[K" : "\n");
  printed_ = true;
}

double Progress::finish() {
  if (enabled_ && printed_ && tty_) std::fputc('\n', stderr);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace fastwave::cli
