// One function per subcommand, each in its own file: it declares its options on `app`
// and sets the callback that runs it. Callbacks report user errors by throwing
// fastwave::Error; main() prints them on one line and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace fastwave::cli {

void add_info_command(CLI::App& app);
void add_init_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_mel_command(CLI::App& app);
void add_vocode_command(CLI::App& app);
#ifdef FASTWAVE_WITH_TRAINING
void add_train_command(CLI::App& app);
#endif

}  // namespace fastwave::cli
