// fastwave: fast autoregressive WaveNet generation. One file per subcommand.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "fastwave/error.h"

int main(int argc, char** argv) {
  CLI::App app{"fastwave: fast WaveNet audio generation, evaluation and quantization"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fastwave 0.1.0");
  fastwave::cli::add_info_command(app);
  fastwave::cli::add_init_command(app);
  fastwave::cli::add_generate_command(app);
  fastwave::cli::add_eval_command(app);
  fastwave::cli::add_quantize_command(app);
  fastwave::cli::add_bench_command(app);
  fastwave::cli::add_compare_command(app);
#ifdef FASTWAVE_WITH_TRAINING
  fastwave::cli::add_train_command(app);
#endif
  // CLI11 would only say "A subcommand is required" for a misspelt command.
  const auto commands = app.get_subcommands([](const CLI::App*) { return true; });
  std::string names;
  bool known = false;
  for (const auto* sub : commands) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "fastwave: error: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const fastwave::Error& e) {
    std::fprintf(stderr, "fastwave: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "fastwave: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastwave: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
