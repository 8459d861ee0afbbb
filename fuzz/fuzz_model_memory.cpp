// Model loader from memory: any bytes end in a Model or one fastwave::Error. A model
// that loads is also run for a few samples (when its working memory is small).
#include "fastwave/fastwave.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const fastwave::Model model = fastwave::Model::parse({data, size}, "fuzz");
    if (fastwave::working_memory(model.config()).fast_generation < (uint64_t{64} << 20)) {
      fastwave::Conditioning conditioning;
      if (model.config().has_global()) conditioning.speaker = 0;
      if (model.config().has_local()) {
        conditioning.local_frames = 1;
        conditioning.local_features.assign(model.config().local_channels, 0.5f);
      }
      auto generator = fastwave::make_generator(model, fastwave::Method::kFast, conditioning);
      generator->push(0);
      generator->push(model.config().classes - 1);
    }
  } catch (const fastwave::Error&) {
  }
  return 0;
}
