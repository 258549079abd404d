#include "otfgp/core/output_file.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

// "a symbolic link to 'TARGET', which does not exist" for a dangling link, ""
// otherwise.
std::string dangling_link(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::is_symlink(path, error) || std::filesystem::exists(path, error)) return "";
  return "a symbolic link to '" + std::filesystem::read_symlink(path, error).string() +
         "', which does not exist";
}

}  // namespace

std::filesystem::path through_links(const std::filesystem::path& target) {
  std::filesystem::path path = target;
  std::error_code error;
  for (int hops = 0; hops < 40 && std::filesystem::is_symlink(path, error); ++hops) {
    const std::filesystem::path link = std::filesystem::read_symlink(path, error);
    if (error) break;
    path = link.is_absolute() ? link : path.parent_path() / link;
  }
  return path;
}

void make_output_folder(const std::filesystem::path& folder, const std::string& role) {
  std::error_code error;
  if (std::filesystem::is_directory(folder, error)) return;
  if (const std::string dangling = dangling_link(folder); !dangling.empty())
    throw Error("cannot create " + role + " '" + folder.string() + "': it is " + dangling +
                "; create the folder it names, or give another");
  if (std::filesystem::exists(folder, error))
    throw Error("cannot create " + role + " '" + folder.string() + "': a file of that name exists");
  std::filesystem::create_directories(folder, error);
  if (error || !std::filesystem::is_directory(folder))
    throw Error("cannot create " + role + " '" + folder.string() + "'" +
                (error ? ": " + error.message() : std::string()));
}

void check_writable(const std::filesystem::path& target) {
  const auto directory =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(directory)) {
    const std::string dangling = dangling_link(directory);
    throw Error("cannot write '" + target.string() + "': " +
                (!dangling.empty() ? "'" + directory.string() + "' is " + dangling
                 : std::filesystem::exists(directory)
                     ? "'" + directory.string() + "' is a file, not a directory"
                     : "directory '" + directory.string() + "' does not exist"));
  }
  if (std::filesystem::is_directory(target))
    throw Error("cannot write '" + target.string() + "': it is a directory");
  if (::access(directory.c_str(), W_OK) != 0)
    throw Error("cannot write '" + target.string() + "': directory '" + directory.string() +
                "' is not writable");
}

std::string write_failure(int error_number) {
  return error_number != 0 ? std::string(std::strerror(error_number)) : "disk full?";
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

ReplacingFile::ReplacingFile(std::filesystem::path target)
    : target_(std::move(target)), destination_(through_links(target_)) {
  check_writable(destination_);
  remove_stale_temporaries(destination_);
  temporary_ = temporary_path(destination_);
}

ReplacingFile::~ReplacingFile() {
  if (committed_) return;
  std::error_code ignored;
  std::filesystem::remove(temporary_, ignored);
}

void ReplacingFile::commit() {
  std::error_code error;
  std::filesystem::rename(temporary_, destination_, error);
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

void OutputFile::finish() {
  if (finished_) return;
  finished_ = true;
  stream_.flush();
  stream_.close();
  // The stream keeps no error code: the failed write() left it in errno,
  // taken where it is one a write gives.
  if (stream_.fail()) {
    const int cause = errno;
    const bool of_write =
        cause == ENOSPC || cause == EFBIG || cause == EDQUOT || cause == EIO || cause == EROFS;
    throw Error("writing '" + file_.target().string() +
                "' failed: " + write_failure(of_write ? cause : 0));
  }
}

void OutputFile::commit() {
  finish();
  file_.commit();
}

}  // namespace otfgp
