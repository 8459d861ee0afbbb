// The --sweep syntax: NAME=ITEM,ITEM,... where an item is a number N, a range A..B
// (step 1), A..B:S (step S) or A..B*F (times F), or "..." continuing the two numbers
// before it (arithmetic or geometric) up to the number after it: 1,2,4,...,64.
#include <charconv>
#include <map>
#include <utility>

#include "cli/bench.h"

namespace fastwave::cli::bench {
namespace {

constexpr size_t kMaxPoints = 1000;
constexpr int64_t kMaxValue = int64_t{1} << 30;

struct Limits {
  int64_t min, max;
};
// Layers per block beyond 16 make a receptive field the naive method cannot finish.
const std::map<std::string, Limits>& limits() {
  static const std::map<std::string, Limits> table = {
      {"layers", {1, 16}}, {"samples", {1, int64_t{1} << 28}}, {"threads", {1, 256}}, {"streams", {1, 4096}}};
  return table;
}

int64_t parse_number(const std::string& text, const std::string& spec) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw Error("--sweep '" + spec + "': '" + text + "' is not an integer");
  }
  // Far above every dimension's limit, and small enough that no step below overflows.
  if (value > kMaxValue || value < -kMaxValue) throw Error("--sweep '" + spec + "': " + text + " is too large");
  return value;
}

void append(std::vector<int64_t>& values, int64_t value, const std::string& spec) {
  if (values.size() >= kMaxPoints) throw Error("--sweep '" + spec + "': more than 1000 points");
  values.push_back(value);
}

// A..B, A..B:S or A..B*F.
void append_range(const std::string& item, size_t dots, const std::string& spec, std::vector<int64_t>& values) {
  const int64_t first = parse_number(item.substr(0, dots), spec);
  std::string rest = item.substr(dots + 2);
  int64_t step = 1;
  bool geometric = false;
  if (const size_t at = rest.find_first_of(":*"); at != std::string::npos) {
    geometric = rest[at] == '*';
    step = parse_number(rest.substr(at + 1), spec);
    rest = rest.substr(0, at);
  }
  const int64_t last = parse_number(rest, spec);
  if (last < first) throw Error("--sweep '" + spec + "': range '" + item + "' runs backwards");
  if (step < (geometric ? 2 : 1)) throw Error("--sweep '" + spec + "': bad step in '" + item + "'");
  if (geometric && first < 1) throw Error("--sweep '" + spec + "': a geometric range starts at 1 or more");
  for (int64_t v = first; v <= last; v = geometric ? v * step : v + step) append(values, v, spec);
}

// "..." after a, b and before `until`: continue the progression up to `until`. Three or
// more numbers before it fix the kind (same difference or same ratio); after only two,
// a whole ratio of 2 or more that reaches `until` is read as geometric (1,2,...,64),
// otherwise the difference is repeated.
void append_continuation(std::vector<int64_t>& values, int64_t until, const std::string& spec) {
  if (values.size() < 2) throw Error("--sweep '" + spec + "': '...' needs two numbers before it");
  const int64_t a = values[values.size() - 2], b = values.back();
  if (b <= a) throw Error("--sweep '" + spec + "': '...' needs increasing numbers before it");
  auto reaches = [&](bool geometric) {
    int64_t v = b;
    for (size_t n = 0; v < until && n < kMaxPoints; ++n) v = geometric ? v * (b / a) : v + (b - a);
    return v == until;
  };
  const bool ratio = a >= 1 && b % a == 0 && b / a >= 2;
  bool geometric = ratio && reaches(true);
  if (values.size() >= 3) {
    const int64_t before = values[values.size() - 3];
    geometric = ratio && before >= 1 && before * (b / a) == a;
    if (!geometric && a - before != b - a) {
      throw Error("--sweep '" + spec + "': the numbers before '...' are no progression");
    }
  }
  if (!reaches(geometric)) throw Error("--sweep '" + spec + "': the progression does not reach " + std::to_string(until));
  for (int64_t v = geometric ? b * (b / a) : b + (b - a); v < until; v = geometric ? v * (b / a) : v + (b - a)) {
    append(values, v, spec);
  }
}

}  // namespace

Sweep parse_sweep(const std::string& spec) {
  const size_t eq = spec.find('=');
  std::string names;
  for (const auto& [name, unused] : limits()) names += (names.empty() ? "" : ", ") + name;
  if (eq == std::string::npos) throw Error("--sweep '" + spec + "': expected NAME=VALUES with NAME one of " + names);
  Sweep sweep{spec.substr(0, eq), {}};
  const auto limit = limits().find(sweep.name);
  if (limit == limits().end()) throw Error("--sweep '" + spec + "': unknown name '" + sweep.name + "' (one of " + names + ")");
  const std::string list = spec.substr(eq + 1);
  if (list.empty()) throw Error("--sweep '" + spec + "': no values");
  bool continuing = false;
  for (size_t begin = 0; begin <= list.size();) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(begin, end - begin);
    begin = end + 1;
    if (item == "...") {
      if (continuing) throw Error("--sweep '" + spec + "': '...' twice in a row");
      continuing = true;
      continue;
    }
    if (const size_t dots = item.find(".."); dots != std::string::npos) {
      if (continuing) throw Error("--sweep '" + spec + "': '...' must be followed by a number");
      append_range(item, dots, spec, sweep.values);
      continue;
    }
    const int64_t value = parse_number(item, spec);
    if (continuing) append_continuation(sweep.values, value, spec);
    continuing = false;
    append(sweep.values, value, spec);
  }
  if (continuing) throw Error("--sweep '" + spec + "': '...' must be followed by a number");
  for (int64_t v : sweep.values) {
    if (v < limit->second.min || v > limit->second.max) {
      throw Error("--sweep '" + spec + "': " + std::to_string(v) + " is outside " + std::to_string(limit->second.min) +
                  ".." + std::to_string(limit->second.max));
    }
  }
  return sweep;
}

}  // namespace fastwave::cli::bench
