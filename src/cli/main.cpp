// fastwave: fast autoregressive WaveNet generation. One file per subcommand.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "fastwave/error.h"
#include "io/output_file.h"

namespace {

// Every failure is one line on stderr and exit code 1, whatever text the error carries
// (a file name or a JSON key may hold control characters).
int fail(const std::string& message) {
  std::string line;
  for (char c : message) line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
  std::fprintf(stderr, "fastwave: error: %s\n", line.c_str());
  return 1;
}

}  // namespace

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
  fastwave::cli::add_mel_command(app);
  fastwave::cli::add_vocode_command(app);
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
    return fail(std::string("unknown command '") + argv[1] + "' (commands: " + names + ")");
  }
  // Outputs are written to temporaries first; an interrupt must not leave them behind.
  fastwave::io::remove_temporaries_on_signal();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());  // CLI11's own report is two lines and exit codes 100-120
  } catch (const fastwave::Error& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
