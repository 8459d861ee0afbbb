// Readers against hostile inputs: special files, headers that lie about sizes, absurd
// rates and lengths. Every case must end in one fastwave::Error naming the file, quickly
// and without allocating what the header claims.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>

#include "../test_util.h"

namespace fastwave {
namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A canonical 16-bit PCM WAV header whose size fields claim `claimed_frames`, followed
// by `frames` real samples.
std::vector<uint8_t> wav_bytes(int rate, uint32_t claimed_frames, int frames) {
  std::vector<uint8_t> b;
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i))); };
  auto u16 = [&](uint16_t v) { b.push_back(uint8_t(v)); b.push_back(uint8_t(v >> 8)); };
  auto tag = [&](const char* t) { b.insert(b.end(), t, t + 4); };
  const uint32_t data_bytes = claimed_frames * 2u;
  tag("RIFF"); u32(36 + data_bytes); tag("WAVE");
  tag("fmt "); u32(16); u16(1); u16(1); u32(uint32_t(rate)); u32(uint32_t(rate) * 2); u16(2); u16(16);
  tag("data"); u32(data_bytes);
  for (int i = 0; i < frames; ++i) u16(uint16_t(i * 37));
  return b;
}

std::vector<uint8_t> npy_bytes(const std::string& header_dict, size_t data_bytes) {
  std::string header = header_dict;
  header.resize((10 + header.size() + 1 + 63) / 64 * 64 - 11, ' ');
  header += '\n';
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size() & 0xFF), uint8_t(header.size() >> 8)};
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(HostileInput, SpecialFilesAreRefusedWithoutBlocking) {
  testing::TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);  // no writer: opening it to read would block
  for (const std::string& path : {dir.file("fifo"), std::string("/dev/zero"), dir.path().string()}) {
    for (const std::string& message :
         {error_of([&] { read_audio(path, 16000); }), error_of([&] { read_ids(path, 256); }),
          error_of([&] { read_npy(path, nullptr); }), error_of([&] { Model::load(path); })}) {
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_TRUE(message.find("not a regular file") != std::string::npos ||
                  message.find("is a directory") != std::string::npos)
          << message;
    }
  }
}

TEST(HostileInput, NpyHeaderIsParsedByHandWithBounds) {
  testing::TempDir dir;
  const std::string f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  struct Case {
    std::string header;
    size_t data_bytes;
    std::string fragment;
  };
  // 20,000 dimensions: std::regex used to overflow the stack on this.
  std::string deep = "(";
  for (int i = 0; i < 20000; ++i) deep += "1,";
  deep += ")";
  const std::vector<Case> cases = {
      {f4 + deep + ", }", 4, "dimensions"},
      {f4 + "(131072, 131072), }", 128, "does not match"},           // claims 64 GB, holds 128 bytes
      {f4 + "(4294967296, 4294967296, 16), }", 0, "does not match"},  // the product overflows 64 bits
      {f4 + "(99999999999999999999999,), }", 0, "malformed shape"},   // out of int64: no stoll throw
      {f4 + "(2, 3), }", 20, "does not match"},                        // 5 floats for 6
      {f4 + "(2, -3), }", 24, "malformed shape"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "float32"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, "C order"},
      {"{'descr': '<f4', 'shape': (2,), }", 8, "lacks"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "repeated"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8, "malformed"},
  };
  for (const auto& c : cases) {
    testing::write_bytes(dir.file("x.npy"), npy_bytes(c.header, c.data_bytes));
    const std::string message = error_of([&] { read_npy(dir.file("x.npy"), nullptr); });
    EXPECT_NE(message.find(c.fragment), std::string::npos) << c.header.substr(0, 80) << " -> " << message;
  }
  testing::write_bytes(dir.file("ok.npy"), npy_bytes("{\"shape\": (2, 1), \"fortran_order\": False, \"descr\": \"<f4\"}", 8));
  std::vector<int64_t> shape;
  EXPECT_EQ(read_npy(dir.file("ok.npy"), &shape).size(), 2u);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 1}));
}

TEST(HostileInput, WavClaimingMoreFramesThanItHoldsReadsWhatIsThere) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("liar.wav"), wav_bytes(16000, 2000000000u, 300));
  EXPECT_EQ(read_audio(dir.file("liar.wav"), 16000).size(), 300u);
}

TEST(HostileInput, AbsurdRatesAndLengthsAreRefused) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("1hz.wav"), wav_bytes(1, 1000, 1000));  // 16,000x upsampling
  EXPECT_NE(error_of([&] { read_audio(dir.file("1hz.wav"), 16000); }).find("below the model's"), std::string::npos);
  // Exactly 16x is allowed, and the output is sized from what was read.
  testing::write_bytes(dir.file("1k.wav"), wav_bytes(1000, 100, 100));
  EXPECT_NEAR(double(read_audio(dir.file("1k.wav"), 16000).size()), 1600.0, 20.0);

  testing::write_bytes(dir.file("long.wav"), wav_bytes(16000, 32000, 32000));  // 2 s
  EXPECT_NE(error_of([&] { read_audio(dir.file("long.wav"), 16000, {1.0, false}); }).find("longer than"),
            std::string::npos);
  EXPECT_EQ(read_audio(dir.file("long.wav"), 16000, {1.0, true}).size(), 16000u);
  EXPECT_NEAR(double(read_audio(dir.file("long.wav"), 8000, {1.0, true}).size()), 8000.0, 1.0);
}

TEST(HostileInput, IdsFilesAreBounded) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("ids.txt"), {'1', ' ', '2', ' ', '3', '\n'});
  EXPECT_NE(error_of([&] { read_ids(dir.file("ids.txt"), 256, 2); }).find("more than 2 ids"), std::string::npos);
  const std::string huge(100000, '7');  // one endless token is refused, not buffered
  testing::write_bytes(dir.file("long.txt"), {huge.begin(), huge.end()});
  EXPECT_NE(error_of([&] { read_ids(dir.file("long.txt"), 256); }).find("not a class id"), std::string::npos);
  EXPECT_EQ(parse_ids("0 1\n\t2", 3, 10, "text"), (std::vector<int>{0, 1, 2}));
  EXPECT_THROW(parse_ids("-1", 3, 10, "text"), Error);
  EXPECT_THROW(parse_ids("4294967296", 3, 10, "text"), Error);
  EXPECT_THROW(parse_ids(" \n", 3, 10, "text"), Error);
}

}  // namespace
}  // namespace fastwave
