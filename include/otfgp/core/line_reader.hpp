#pragma once
// Reads a text file line by line and knows where it is, so that every parse
// error can name the file and the line ("POSCAR, line 7: ...").

#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <string>

#include "otfgp/core/error.hpp"

namespace otfgp {

class LineReader {
 public:
  // Opens `path`; throws otfgp::Error when it is missing, a directory or unreadable.
  explicit LineReader(const std::filesystem::path& path);
  // Reads from a stream the caller owns; `source` names it in messages.
  LineReader(std::istream& input, std::string source);

  // The next line without its end-of-line characters ("\n", "\r\n"); false at
  // the end of the input. Throws when the stream fails for another reason.
  bool next(std::string& line);
  // Hands the line last returned by next() back, so that the following next()
  // returns it again (one line of look-ahead).
  void unread();
  // Number of the line last returned by next() (1-based; 0 before the first).
  int line_number() const { return line_number_; }
  const std::string& source() const { return source_; }

  // "<source>, line <n>: <message>" for the last line read, or for line `line`.
  Error error(const std::string& message) const { return error_at(line_number_, message); }
  Error error_at(int line, const std::string& message) const;

 private:
  std::unique_ptr<std::ifstream> file_;
  std::istream* input_ = nullptr;
  std::string source_;
  int line_number_ = 0;
  std::string last_line_;
  bool has_unread_line_ = false;
};

}  // namespace otfgp
