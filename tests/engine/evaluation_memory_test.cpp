// Teacher-forced evaluation streams its logits: peak memory does not grow with the file.
// Measured as the peak RSS of a `fastwave eval` child process (wait4's rusage), against a
// bound far below what keeping every logit would need.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"

namespace fastwave {
namespace {

// Runs the CLI with `args`; returns its peak RSS in bytes, or -1 if it failed.
int64_t peak_rss_of_cli(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string binary = FASTWAVE_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Under AddressSanitizer, keep its quarantine from dominating the measurement.
    ::setenv("ASAN_OPTIONS", "quarantine_size_mb=8:malloc_context_size=2", 1);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  int status = 0;
  rusage usage{};
  if (::wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return int64_t(usage.ru_maxrss) * 1024;
}

TEST(EvaluationMemory, ALongFileIsScoredInBoundedMemory) {
  testing::TempDir dir;
  ModelConfig c = testing::small_config();
  c.classes = 256;
  Model::random(c, 5).save(dir.file("m.fwm"));
  // 1.5 M positions (94 s at 16 kHz): keeping every logit would take 1.5 GB.
  std::vector<int> ids(1'500'000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int((i * 7919u) % 256u);
  write_ids(dir.file("long.txt"), ids);
  const int64_t all_logits = int64_t(ids.size()) * c.classes * 4;

  const int64_t rss = peak_rss_of_cli({"eval", "-m", dir.file("m.fwm"), "--ids", dir.file("long.txt"), "--threads", "2"});
  ASSERT_GT(rss, 0) << "fastwave eval failed";
  RecordProperty("peak_rss_bytes", std::to_string(rss));
  std::printf("eval of %zu positions: peak RSS %.1f MB (every logit: %.0f MB)\n", ids.size(), rss / 1e6, all_logits / 1e6);
  EXPECT_LT(rss, 300'000'000) << "peak RSS " << rss << " bytes; every logit would be " << all_logits;

  // --logits-out streams to the file as well.
  const int64_t with_npy = peak_rss_of_cli({"eval", "-m", dir.file("m.fwm"), "--ids", dir.file("long.txt"),
                                            "--logits-out", dir.file("l.npy")});
  ASSERT_GT(with_npy, 0);
  EXPECT_LT(with_npy, 300'000'000);
  EXPECT_EQ(int64_t(std::filesystem::file_size(dir.file("l.npy"))), 128 + (int64_t(ids.size()) - 1) * c.classes * 4);
}

TEST(EvaluationMemory, StreamedBlocksMatchTheWholeSequence) {
  // More rows than one block of chunks on three threads, so several blocks are streamed.
  const Model model = Model::random(testing::small_config(), 9);
  std::vector<int> ids(70000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int((i * 31u + i / 7) % 64u);
  const std::vector<float> one_thread = teacher_forced_logits(model, ids, {}, 1);
  const std::vector<float> three_threads = teacher_forced_logits(model, ids, {}, 3);
  EXPECT_EQ(one_thread, three_threads);
  const EvalResult streamed = evaluate(model, ids, {}, 3);
  EXPECT_NEAR(streamed.nll_bits_per_sample, nll_bits(one_thread, ids, 64), 1e-9);
  EXPECT_EQ(streamed.positions, int64_t(ids.size()) - 1);
}

}  // namespace
}  // namespace fastwave
