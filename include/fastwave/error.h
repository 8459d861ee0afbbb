// One exception type for everything a user can get wrong: the CLI prints what() on one line.
#pragma once

#include <stdexcept>
#include <string>

namespace fastwave {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fastwave
