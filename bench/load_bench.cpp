// The cost of getting a model ready to run: Model::load, then Network::build, in time and
// in memory. Each model runs in its own child process, so every measurement starts from a
// fresh heap (memory freed by an earlier load would otherwise hide the next one's peak).
// The first load and build of the process are timed and measured for memory; then the
// median time of the repeats that follow (a warm heap, no page faults). Times are CPU time.
//
//   build/bench/load_bench MODEL... [--repeats 20]
//
// peak = high-water RSS during the phase above the RSS before it (/proc/self/clear_refs
// resets the mark); kept = RSS after the phase above the RSS before it.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "fastwave/fastwave.h"

namespace {

// CPU time of this process (page faults included), not wall time: on a shared machine the
// time other work takes the core away would otherwise dominate.
double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// VmRSS or VmHWM of this process in kB.
long status_kb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// The first run of a phase in this process: its time (page faults and a cold heap
// included) and its memory.
struct FirstRun {
  double ms = 0;
  long peak_kb = 0, kept_kb = 0;
};

template <typename F>
FirstRun measure_first_run(F phase) {
  reset_peak_rss();
  const long before = status_kb("VmRSS");
  const double t0 = cpu_ms();
  phase();
  const double ms = cpu_ms() - t0;
  return {ms, status_kb("VmHWM") - before, status_kb("VmRSS") - before};
}

template <typename F>
double median_ms(int repeats, F phase) {
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = cpu_ms();
    phase();
    ms.push_back(cpu_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Reads the file through a small buffer, so that it is in the page cache for every load
// without leaving a freed file-sized block in this process's heap.
void warm_page_cache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
  }
}

int measure(const std::string& path, int repeats) {
  try {
    warm_page_cache(path);
    fastwave::Model model;
    std::shared_ptr<const fastwave::Network> network;
    const FirstRun load = measure_first_run([&] { model = fastwave::Model::load(path); });
    const FirstRun build = measure_first_run([&] { network = fastwave::Network::build(model); });
    const double load_ms = median_ms(repeats, [&] { fastwave::Model::load(path); });
    const double build_ms = median_ms(repeats, [&] { fastwave::Network::build(model); });
    std::printf("%s\n", path.c_str());
    for (const auto& [phase, first, median] : {std::tuple{"load ", load, load_ms}, std::tuple{"build", build, build_ms}}) {
      std::printf("  %s first %6.2f ms, then median %6.2f ms | peak %+6.2f MB, kept %+6.2f MB\n", phase, first.ms,
                  median, first.peak_kb / 1024.0, first.kept_kb / 1024.0);
    }
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 20;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) repeats = std::max(1, std::stoi(argv[++i]));
    else if (!a.empty() && a[0] != '-') models.push_back(a);
    else models.clear(), i = argc;
  }
  if (models.empty()) {
    std::fprintf(stderr, "usage: load_bench MODEL... [--repeats N]\n");
    return 1;
  }
  int failures = 0;
  for (const auto& path : models) {
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) _exit(measure(path, repeats));
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  return failures ? 1 : 0;
}
