// fastwave bench output: the table as points finish, the ratios of the run, and the same
// rows as JSON, CSV and Markdown. Every field is named once, in kFields.
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/bench.h"
#include "cli/common.h"

namespace fastwave::cli::bench {
namespace {

struct Field {
  const char* name;
  std::function<nlohmann::ordered_json(const Row&)> value;
};

// The columns of --json and --csv, in order.
const std::vector<Field>& fields() {
  using J = nlohmann::ordered_json;
  static const std::vector<Field> table = {
      {"model", [](const Row& r) { return J(r.model); }},
      {"scheme", [](const Row& r) { return J(r.scheme); }},
      {"isa", [](const Row& r) { return J(r.isa); }},
      {"method", [](const Row& r) { return J(r.method); }},
      {"blocks", [](const Row& r) { return J(r.blocks); }},
      {"layers_per_block", [](const Row& r) { return J(r.layers_per_block); }},
      {"receptive_field", [](const Row& r) { return J(r.receptive_field); }},
      {"streams", [](const Row& r) { return J(r.streams); }},
      {"threads", [](const Row& r) { return J(r.threads); }},
      {"samples", [](const Row& r) { return J(r.samples); }},
      {"sample_rate", [](const Row& r) { return J(r.sample_rate); }},
      {"warmup", [](const Row& r) { return J(r.warmup); }},
      {"runs", [](const Row& r) { return J(r.runs); }},
      {"wall_seconds_mean", [](const Row& r) { return J(r.wall_mean); }},
      {"wall_seconds_sd", [](const Row& r) { return J(r.wall_sd); }},
      {"samples_per_second_mean", [](const Row& r) { return J(r.rate_mean); }},
      {"samples_per_second_sd", [](const Row& r) { return J(r.rate_sd); }},
      {"us_per_sample", [](const Row& r) { return J(r.us_per_sample()); }},
      {"times_real_time", [](const Row& r) { return J(r.times_real_time()); }},
      {"real_time_factor", [](const Row& r) { return J(r.real_time_factor()); }},
      {"weight_bytes", [](const Row& r) { return J(r.weight_bytes); }},
      {"model_file_bytes", [](const Row& r) { return J(r.model_file_bytes); }},
      {"macs_per_sample", [](const Row& r) { return J(r.macs_per_sample); }},
      {"weight_gb_per_second", [](const Row& r) { return J(r.weight_gb_per_s()); }},
      {"gmac_per_second", [](const Row& r) { return J(r.gmac_per_s()); }},
      {"cpu_use", [](const Row& r) { return J(r.cpu_use); }},
      {"peak_rss_bytes", [](const Row& r) { return J(r.peak_rss_bytes); }},
      {"quantize_seconds", [](const Row& r) { return r.quantize_seconds < 0 ? J(nullptr) : J(r.quantize_seconds); }},
  };
  return table;
}

std::string shape(const Row& r) { return std::to_string(r.blocks) + "x" + std::to_string(r.layers_per_block); }

std::string quantize_time(const Row& r) {
  if (r.quantize_seconds < 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", r.quantize_seconds);
  return text;
}

// Same network and point except for what `differs` allows.
bool same_point(const Row& a, const Row& b) {
  return a.model == b.model && a.blocks == b.blocks && a.layers_per_block == b.layers_per_block &&
         a.scheme == b.scheme && a.isa == b.isa && a.method == b.method && a.streams == b.streams &&
         a.threads == b.threads;
}

const Row* find(const std::vector<Row>& rows, const Row& like) {
  for (const auto& r : rows) if (same_point(r, like)) return &r;
  return nullptr;
}

}  // namespace

void print_table_header(std::FILE* out) {
  std::fprintf(out, "%-13s %-7s %-6s %-5s %4s %4s %8s %23s %9s %9s %10s %10s %9s %7s %7s %5s %9s %8s\n", "scheme",
               "isa", "method", "shape", "strm", "thr", "samples", "samples/s (mean ± sd)", "us/sample", "x realtm",
               "weights", "file", "MAC/smp", "GB/s", "GMAC/s", "cpu", "peak RSS", "quantize");
}

void print_table_row(std::FILE* out, const Row& r) {
  std::fprintf(out, "%-13s %-7s %-6s %-5s %4d %4d %8lld %13.1f ± %-7.1f %9.2f %8.3fx %10s %10s %9.3g %7.2f %7.2f %4.0f%% %9s %8s\n",
               r.scheme.c_str(), r.isa.c_str(), r.method.c_str(), shape(r).c_str(), r.streams, r.threads,
               static_cast<long long>(r.samples), r.rate_mean, r.rate_sd, r.us_per_sample(), r.times_real_time(),
               format_bytes(double(r.weight_bytes)).c_str(), format_bytes(double(r.model_file_bytes)).c_str(),
               r.macs_per_sample, r.weight_gb_per_s(), r.gmac_per_s(), 100 * r.cpu_use,
               format_bytes(r.peak_rss_bytes).c_str(), quantize_time(r).c_str());
  std::fflush(out);
}

void print_ratios(std::FILE* out, const std::vector<Row>& rows) {
  for (const auto& r : rows) {
    const std::string what = r.scheme + " " + r.isa + " " + shape(r);
    if (r.method == "naive") {
      Row like = r;
      like.method = "fast";
      if (const Row* fast = find(rows, like)) {
        std::fprintf(out, "%s: fast / naive: %.1fx\n", what.c_str(), fast->rate_mean / r.rate_mean);
      }
      continue;
    }
    if (r.streams != 1 || r.threads != 1) {
      Row like = r;
      like.streams = like.threads = 1;
      if (const Row* one = find(rows, like)) {
        std::fprintf(out, "%s: %d streams x %d threads / 1 x 1: %.2fx the samples/s\n", what.c_str(), r.streams,
                     r.threads, r.rate_mean / one->rate_mean);
      }
      continue;
    }
    if (r.isa != "ref") {
      Row like = r;
      like.isa = "ref";
      if (const Row* ref = find(rows, like)) {
        std::fprintf(out, "%s: fast / ref fast: %.1fx\n", what.c_str(), r.rate_mean / ref->rate_mean);
      }
    }
    // Against the first scheme measured on this network and ISA.
    for (const auto& first : rows) {
      if (first.model != r.model || first.blocks != r.blocks || first.layers_per_block != r.layers_per_block ||
          first.isa != r.isa || first.method != "fast" || first.streams != 1 || first.threads != 1) {
        continue;
      }
      if (first.scheme != r.scheme) {
        std::fprintf(out, "%s / %s: %.2fx the speed, %.2fx smaller weights\n", what.c_str(), first.scheme.c_str(),
                     r.rate_mean / first.rate_mean, double(first.weight_bytes) / double(r.weight_bytes));
      }
      break;
    }
  }
}

std::string to_json(const std::vector<Row>& rows) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& r : rows) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (const auto& f : fields()) row[f.name] = f.value(r);
    j.push_back(row);
  }
  return j.dump(2) + "\n";
}

std::string to_csv(const std::vector<Row>& rows) {
  std::ostringstream out;
  for (size_t i = 0; i < fields().size(); ++i) out << (i ? "," : "") << fields()[i].name;
  out << "\n";
  for (const auto& r : rows) {
    for (size_t i = 0; i < fields().size(); ++i) {
      const nlohmann::ordered_json v = fields()[i].value(r);
      out << (i ? "," : "");
      if (v.is_string()) out << v.get<std::string>();  // names hold no commas or quotes
      else if (!v.is_null()) out << v.dump();
    }
    out << "\n";
  }
  return out.str();
}

std::string to_markdown(const std::vector<Row>& rows) {
  std::ostringstream out;
  out << "| scheme | isa | method | shape | streams | threads | samples | samples/s | us/sample | x real time | "
         "weights | file | GB/s | GMAC/s | cpu | peak RSS | quantize |\n"
      << "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  char text[512];
  for (const auto& r : rows) {
    std::snprintf(text, sizeof text,
                  "| %s | %s | %s | %s | %d | %d | %lld | %.1f ± %.1f | %.2f | %.3fx | %s | %s | %.2f | %.2f | %.0f%% | %s | %s |\n",
                  r.scheme.c_str(), r.isa.c_str(), r.method.c_str(), shape(r).c_str(), r.streams, r.threads,
                  static_cast<long long>(r.samples), r.rate_mean, r.rate_sd, r.us_per_sample(), r.times_real_time(),
                  format_bytes(double(r.weight_bytes)).c_str(), format_bytes(double(r.model_file_bytes)).c_str(),
                  r.weight_gb_per_s(), r.gmac_per_s(), 100 * r.cpu_use, format_bytes(r.peak_rss_bytes).c_str(),
                  quantize_time(r).c_str());
    out << text;
  }
  return out.str();
}

}  // namespace fastwave::cli::bench
