// Outputs: exclusive temporaries, refusal to replace what is not a regular file, every
// write checked, nothing left behind on failure.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include "../test_util.h"
#include "io/output_file.h"

namespace fastwave {
namespace {

int count_entries(const std::filesystem::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

const std::vector<uint8_t> kBytes = {1, 2, 3, 4};

TEST(OutputFile, ReplacesARegularFileAndLeavesOnlyIt) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("out.bin"), {9, 9});
  write_file_atomically(dir.file("out.bin"), kBytes);
  EXPECT_EQ(testing::read_bytes(dir.file("out.bin")), kBytes);
  EXPECT_EQ(count_entries(dir.path()), 1);
  // Created with the usual permissions (0666 less the umask), not mkstemp's 0600.
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("out.bin").c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
  // A replaced file keeps its own permissions.
  ASSERT_EQ(::chmod(dir.file("out.bin").c_str(), 0600), 0);
  write_file_atomically(dir.file("out.bin"), kBytes);
  ASSERT_EQ(::stat(dir.file("out.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(OutputFile, RefusesToReplaceWhatIsNotARegularFile) {
  testing::TempDir dir;
  // A symbolic link (to a file we own), a directory, a FIFO, a device.
  testing::write_bytes(dir.file("victim"), {7});
  std::filesystem::create_symlink(dir.file("victim"), dir.file("link"));
  std::filesystem::create_directory(dir.file("subdir"));
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  for (const std::string& target : {dir.file("link"), dir.file("subdir"), dir.file("fifo"), std::string("/dev/null")}) {
    try {
      write_file_atomically(target, kBytes);
      ADD_FAILURE() << "replaced " << target;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("refusing to replace"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(testing::read_bytes(dir.file("victim")), std::vector<uint8_t>{7});
  EXPECT_TRUE(std::filesystem::is_symlink(dir.file("link")));
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(count_entries(dir.path()), 4);  // no temporaries left
}

TEST(OutputFile, APlantedLinkAtTheOldTemporaryNameIsNotFollowed) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("victim"), {7});
  // The names the old writer used: PATH.tmp.<pid> and PATH.tmp.
  std::filesystem::create_symlink(dir.file("victim"), dir.file("out.wav.tmp." + std::to_string(::getpid())));
  std::filesystem::create_symlink(dir.file("victim"), dir.file("out.wav.tmp"));
  write_wav(dir.file("out.wav"), std::vector<float>(100, 0.25f), 16000);
  EXPECT_EQ(testing::read_bytes(dir.file("victim")), std::vector<uint8_t>{7});
  EXPECT_EQ(read_audio(dir.file("out.wav"), 16000).size(), 100u);
}

TEST(OutputFile, TemporariesAreExclusiveAndUnpredictable) {
  testing::TempDir dir;
  io::OutputFile a(dir.file("x")), b(dir.file("x"));  // two writers never share a temporary
  a.write(kBytes);
  b.write(std::vector<uint8_t>{5});
  EXPECT_EQ(count_entries(dir.path()), 2);
  a.commit();
  b.discard();
  EXPECT_EQ(testing::read_bytes(dir.file("x")), kBytes);
  EXPECT_EQ(count_entries(dir.path()), 1);
}

// Runs in a death-test child: a 1 kB file size limit makes write() fail (EFBIG) halfway.
[[noreturn]] void write_past_a_file_size_limit(const testing::TempDir& dir) {
  std::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{1024, 1024};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  bool reported = false;
  try {
    write_file_atomically(dir.file("big.bin"), std::vector<uint8_t>(100000, 1));
  } catch (const Error& e) {
    reported = std::string(e.what()).find("failed writing") != std::string::npos;
  }
  std::_Exit(reported && count_entries(dir.path()) == 0 ? 0 : 1);
}

TEST(OutputFile, AFailedWriteIsReportedAndLeavesNothing) {
  testing::TempDir dir;
  EXPECT_EXIT(write_past_a_file_size_limit(dir), ::testing::ExitedWithCode(0), "");
}

TEST(OutputFile, AnAbandonedWriterLeavesNothing) {
  testing::TempDir dir;
  {
    WavWriter wav(dir.file("a.wav"), 16000);
    wav.append(std::vector<float>(10, 0.1f));
    NpyWriter npy(dir.file("a.npy"), {2, 2});
    npy.append(std::vector<float>{1, 2, 3});
    EXPECT_THROW(npy.commit(), Error);  // three values for a shape of four
  }
  EXPECT_EQ(count_entries(dir.path()), 0);
}

}  // namespace
}  // namespace fastwave
