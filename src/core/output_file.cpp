#include "otfgp/core/output_file.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "otfgp/core/error.hpp"

namespace otfgp {

void check_writable(const std::filesystem::path& target) {
  const auto directory =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(directory))
    throw Error("cannot write '" + target.string() + "': directory '" + directory.string() +
                "' does not exist");
  if (std::filesystem::is_directory(target))
    throw Error("cannot write '" + target.string() + "': it is a directory");
  if (::access(directory.c_str(), W_OK) != 0)
    throw Error("cannot write '" + target.string() + "': directory '" + directory.string() +
                "' is not writable");
}

std::filesystem::path temporary_path(const std::filesystem::path& target) {
  const auto directory =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  return directory / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()));
}

bool is_temporary_name(const std::string& name, const std::string& target_name) {
  const std::size_t tmp = name.rfind(".tmp");
  if (name.size() < 2 || name[0] != '.' || tmp == std::string::npos || tmp < 2) return false;
  if (!target_name.empty() && name.compare(1, tmp - 1, target_name) != 0) return false;
  if (!target_name.empty() && tmp - 1 != target_name.size()) return false;
  const std::string digits = name.substr(tmp + 4);
  return !digits.empty() && digits.size() <= 9 &&
         digits.find_first_not_of("0123456789") == std::string::npos;
}

void remove_stale_temporaries(const std::filesystem::path& target) {
  const auto directory =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string target_name = target.filename().string();
  const std::string prefix = "." + target_name + ".tmp";
  std::error_code error;
  std::filesystem::directory_iterator entries(directory, error);
  if (error) return;
  for (const auto& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (!is_temporary_name(name, target_name)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name.substr(prefix.size())));
    // A writer that still runs (or one we may not signal) keeps its file.
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    std::filesystem::remove(entry.path(), ignored);
  }
}

ReplacingFile::ReplacingFile(std::filesystem::path target) : target_(std::move(target)) {
  check_writable(target_);
  remove_stale_temporaries(target_);
  temporary_ = temporary_path(target_);
}

ReplacingFile::~ReplacingFile() {
  if (committed_) return;
  std::error_code ignored;
  std::filesystem::remove(temporary_, ignored);
}

void ReplacingFile::commit() {
  std::error_code error;
  std::filesystem::rename(temporary_, target_, error);
  if (error)
    throw Error("cannot move the finished file to '" + target_.string() + "': " + error.message());
  committed_ = true;
}

OutputFile::OutputFile(std::filesystem::path target, std::ios::openmode mode)
    : file_(std::move(target)) {
  stream_.open(file_.temporary(), mode | std::ios::out | std::ios::trunc);
  if (!stream_)
    throw Error("cannot write '" + file_.target().string() + "': permission denied or disk full");
  // 17 significant digits: every double written through stream() reads back exactly.
  stream_.precision(17);
}

// Closes the stream before file_ removes an uncommitted temporary.
OutputFile::~OutputFile() {
  stream_.close();
}

void OutputFile::commit() {
  stream_.flush();
  const bool good = static_cast<bool>(stream_);
  stream_.close();
  if (!good) throw Error("writing '" + file_.target().string() + "' failed (disk full?)");
  file_.commit();
}

}  // namespace otfgp
