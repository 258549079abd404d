#include "otfgp/core/gnuplot.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <system_error>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/process.hpp"

namespace otfgp {

std::string GnuplotJob::data(const std::string& name, const std::string& content) {
  std::ofstream(folder_ / name) << content;
  return "'" + (folder_ / name).string() + "'";
}

bool GnuplotJob::run(const std::filesystem::path& png, const std::string& what) {
  const auto image = folder_ / "plot.png";
  std::ofstream(folder_ / "plot.gp")
      << "set terminal pngcairo size " << width_ << "," << height_
      << " enhanced font 'Sans,10'\nset output '" << image.string() << "'\n"
      << script_.str() << "\nunset output\n";
  ProcessOptions options;
  options.working_directory = folder_.path();
  options.stdout_file = folder_ / "gnuplot.log";
  options.timeout = std::chrono::seconds(120);
  ProcessResult result;
  try {
    result = run_process({"gnuplot", (folder_ / "plot.gp").string()}, options);
  } catch (const Error& error) {
    logger().warn("{} plot not written to {}: {}", what, png.string(), error.what());
    return false;
  }
  if (result.exit_status != 0 || !std::filesystem::exists(image)) {
    logger().warn("{} plot not written to {}: gnuplot failed (status {}{}): {}", what, png.string(),
                  result.exit_status, result.timed_out ? ", timed out" : "",
                  result.stderr_tail.substr(0, 600));
    return false;
  }
  try {
    OutputFile file(png, std::ios::binary);
    std::ifstream source(image, std::ios::binary);
    file.stream() << source.rdbuf();
    file.commit();
  } catch (const Error& error) {
    logger().warn("{} plot not written: {}", what, error.what());
    return false;
  }
  logger().info("wrote {} plot {}", what, png.string());
  return true;
}

}  // namespace otfgp
