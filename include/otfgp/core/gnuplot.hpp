#pragma once
// PNG plots drawn by gnuplot (pngcairo): the data and the script go to a
// temporary folder, gnuplot runs there, and the finished image is moved into
// place. A plot that cannot be made is a logged warning and a false return,
// never lost data (the CSV and JSON files beside it hold everything).

#include <filesystem>
#include <sstream>
#include <string>

namespace otfgp {

// A scratch folder with data files and a gnuplot script; removed on destruction.
class GnuplotJob {
 public:
  GnuplotJob();
  ~GnuplotJob();
  GnuplotJob(const GnuplotJob&) = delete;
  GnuplotJob& operator=(const GnuplotJob&) = delete;

  // Writes a data file and returns its name, quoted for the script.
  std::string data(const std::string& name, const std::string& content);
  std::ostringstream& script() { return script_; }

  // Runs gnuplot; true when it exited cleanly and produced the image.
  bool run(const std::filesystem::path& png, const std::string& what);
  void size(int width, int height) {
    width_ = width;
    height_ = height;
  }

 private:
  std::filesystem::path folder_;
  std::ostringstream script_;
  int width_ = 900, height_ = 650;
};

}  // namespace otfgp
