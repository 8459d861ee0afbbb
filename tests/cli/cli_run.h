// Runs the fastwave binary for the CLI tests: exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "../test_util.h"

namespace fastwave::testing {

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

// `args` go through the shell after the binary's path; stderr is collected in `dir`.
inline CliRun run_cli(const std::string& args, const TempDir& dir) {
  const std::string err_file = dir.file("stderr.txt");
  const std::string command = std::string(FASTWAVE_BINARY) + " " + args + " 2>" + err_file;
  CliRun r;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const auto err = read_bytes(err_file);
  r.err.assign(err.begin(), err.end());
  return r;
}

// A user error: exit code 1 and one line, "fastwave: error: ...", naming `fragment`.
inline void expect_one_line_failure(const CliRun& r, const std::string& args, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 1) << args;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << args << "\nstderr: " << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_EQ(r.err.rfind("fastwave: error: ", 0), 0u) << r.err;
}

}  // namespace fastwave::testing
