// fastwave info MODEL: what a model file holds.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show a model's config, size and receptive field");
  auto path = std::make_shared<std::string>();
  cmd->add_option("model", *path, "Model file (default: the shipped default model)");
  cmd->callback([path] {
    const std::string file = resolve_model_path(*path);
    const Model model = Model::load(file);
    const ModelConfig& c = model.config();
    std::printf("model            %s\n", file.c_str());
    std::printf("layers           %d blocks x %d layers (dilations 1..%d), kernel size %d\n", c.blocks,
                c.layers_per_block, 1 << (c.layers_per_block - 1), c.kernel_size);
    std::printf("channels         residual %d, dilation %d, skip %d, end %d, classes %d\n",
                c.residual_channels, c.dilation_channels, c.skip_channels, c.end_channels, c.classes);
    std::printf("bias             %s\n", c.bias ? "yes" : "no");
    std::printf("sample rate      %d Hz\n", c.sample_rate);
    std::printf("receptive field  %d samples (%.1f ms)\n", c.receptive_field(), 1000.0 * c.receptive_field() / c.sample_rate);
    std::printf("conditioning     %s\n",
                c.has_global() && c.has_local() ? "global (speakers) and local (features)"
                : c.has_global()                ? "global (speakers)"
                : c.has_local()                 ? "local (features)"
                                                : "none");
    if (c.has_global()) std::printf("speakers         %d (embedding %d)\n", c.speakers, c.global_channels);
    if (c.has_local()) std::printf("local features   %d channels, one frame per %d samples\n", c.local_channels, c.local_hop);
    std::printf("parameters       %lld\n", static_cast<long long>(model.parameter_count()));
    std::map<std::string, std::pair<int64_t, int64_t>> per_dtype;  // tensors, bytes
    for (const auto& [name, t] : model.tensors()) {
      auto& entry = per_dtype[dtype_name(t.dtype)];
      entry.first += 1;
      entry.second += static_cast<int64_t>(t.bytes.size());
    }
    for (const auto& [dtype, entry] : per_dtype) {
      std::printf("%-16s %lld tensors, %s\n", dtype.c_str(), static_cast<long long>(entry.first),
                  format_bytes(double(entry.second)).c_str());
    }
  });
}

}  // namespace fastwave::cli
