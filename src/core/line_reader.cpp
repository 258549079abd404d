#include "otfgp/core/line_reader.hpp"

#include <stdexcept>
#include <system_error>

namespace otfgp {

LineReader::LineReader(const std::filesystem::path& path) : source_(path.string()) {
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored))
    throw Error("cannot read '" + source_ + "': no such file");
  if (std::filesystem::is_directory(path, ignored))
    throw Error("cannot read '" + source_ + "': it is a directory");
  file_ = std::make_unique<std::ifstream>(path, std::ios::in | std::ios::binary);
  if (!*file_) throw Error("cannot read '" + source_ + "': permission denied");
  input_ = file_.get();
}

LineReader::LineReader(std::istream& input, std::string source)
    : input_(&input), source_(std::move(source)) {}

bool LineReader::next(std::string& line) {
  if (has_unread_line_) {
    has_unread_line_ = false;
    ++line_number_;
    line = last_line_;
    return true;
  }
  if (!std::getline(*input_, line)) {
    if (input_->bad()) throw error_at(line_number_ + 1, "read error");
    return false;
  }
  ++line_number_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  last_line_ = line;
  return true;
}

void LineReader::unread() {
  if (has_unread_line_ || line_number_ == 0)
    throw std::logic_error("LineReader::unread: no line to hand back");
  has_unread_line_ = true;
  --line_number_;
}

Error LineReader::error_at(int line, const std::string& message) const {
  return Error(source_ + ", line " + std::to_string(line) + ": " + message);
}

}  // namespace otfgp
