#pragma once
// A gnuplot run that cannot leave a half-written image: data files and the
// script go to a scratch folder, gnuplot (pngcairo) draws there, and the
// finished PNG is moved into place atomically. A failed plot is a logged
// warning and a false return, never an exception: plots sit beside files that
// hold all the numbers.

#include <filesystem>
#include <sstream>
#include <string>

#include "otfgp/core/scratch_folder.hpp"

namespace otfgp {

class GnuplotJob {
 public:
  // Throws otfgp::Error when no scratch folder can be made.
  GnuplotJob() : folder_("otfgp-plot") {}

  // Writes a data file and returns its path quoted for the script.
  std::string data(const std::string& name, const std::string& content);
  std::ostringstream& script() { return script_; }
  void size(int width, int height) {
    width_ = width;
    height_ = height;
  }
  // Runs gnuplot; true when it exited cleanly and the image is in place.
  bool run(const std::filesystem::path& png, const std::string& what);

 private:
  ScratchFolder folder_;
  std::ostringstream script_;
  int width_ = 900, height_ = 650;
};

}  // namespace otfgp
