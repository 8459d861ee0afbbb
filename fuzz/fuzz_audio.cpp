// Audio and prime reader: libsndfile's every format, mixing, streamed resampling, limits.
// The model rate comes from the first byte, so up- and down-sampling are both exercised.
#include "fastwave/fastwave.h"
#include "memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const int kRates[] = {8000, 16000, 22050, 44100};
  const int rate = kRates[data[0] % 4];
  const bool truncate = data[0] & 4;
  try {
    const std::vector<float> audio =
        fastwave::read_audio(fastwave::fuzz::as_file(data + 1, size - 1), rate, {2.0, truncate});
    fastwave::mulaw_encode(audio, 256);
  } catch (const fastwave::Error&) {
  }
  return 0;
}
