#include "otfgp/core/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"

namespace otfgp {

namespace {

std::string holder_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line.empty() ? "another process" : line;
}

// Whether the open file `fd` is the one at `path` now.
bool same_file(int fd, const std::filesystem::path& path) {
  struct stat held {
  }, named{};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace

std::filesystem::path OutputLock::in_folder(const std::filesystem::path& folder) {
  return folder / folder_file_name();
}

OutputLock::OutputLock(const std::filesystem::path& lock_file, const std::string& output,
                       const std::string& verb)
    : path_(lock_file) {
  // The file may be removed by a holder that ends between our open and our
  // lock: then the lock is on an unlinked file, and another process could
  // lock a new one. Hold it only when the locked file is still the path's.
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error("cannot create the lock file '" + path_.string() + "' of " + output + ": " +
                  std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int failure = errno;
      if (failure != EWOULDBLOCK) {
        // A file system without flock (Lustre mounted noflock, some FUSE and
        // NFS mounts): the run goes on unguarded rather than not at all.
        logger().warn(
            "cannot lock '{}' ({}): the file system does not support flock, so "
            "nothing stops a second run from writing {} at the same time",
            path_.string(), std::strerror(failure), output);
        ::close(fd_);
        fd_ = -1;
        return;
      }
      ::close(fd_);
      fd_ = -1;
      throw Error(output + " is in use by " + holder_text(path_) +
                  ": two runs writing one output would mix or delete each other's files; wait "
                  "for that run to end, stop it, or give another output (the lock file is '" +
                  path_.string() + "')");
    }
    if (same_file(fd_, path_)) break;
    ::close(fd_);
    fd_ = -1;
  }
  std::ostringstream text;
  text << verb << " (pid " << ::getpid() << ", since " << now_utc() << ")\n";
  const std::string line = text.str();
  // Who holds it, for another process's error; the lock holds without it.
  [[maybe_unused]] const bool noted =
      ::ftruncate(fd_, 0) == 0 &&
      ::pwrite(fd_, line.data(), line.size(), 0) == static_cast<ssize_t>(line.size());
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // Unlink while locked: a process that opened the file meanwhile finds it
  // locked now, or no longer at the path once it gets the lock, and retries.
  // Only our own file: the folder may have been removed and another run's
  // lock made at the path since.
  if (same_file(fd_, path_)) ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace otfgp
