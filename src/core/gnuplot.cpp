#include "otfgp/core/gnuplot.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <system_error>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"

namespace otfgp {

GnuplotJob::GnuplotJob() {
  std::string pattern = (std::filesystem::temp_directory_path() / "otfgp-plot-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw Error("cannot create a temporary folder for gnuplot");
  folder_ = pattern;
}

GnuplotJob::~GnuplotJob() {
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

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
  const std::string command = "gnuplot '" + (folder_ / "plot.gp").string() + "' > '" +
                              (folder_ / "gnuplot.log").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  if (status != 0 || !std::filesystem::exists(image)) {
    std::ifstream log(folder_ / "gnuplot.log");
    std::stringstream text;
    text << log.rdbuf();
    logger().warn("{} plot not written to {}: gnuplot failed (status {}): {}", what, png.string(),
                  status, text.str().substr(0, 600));
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
