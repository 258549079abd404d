#include "otfgp/core/hdf5_image.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/fnv1a.hpp"
#include "otfgp/core/hdf5_checksum.hpp"
#include "otfgp/core/output_file.hpp"

namespace otfgp {

namespace {

constexpr std::size_t user_block = 512;
constexpr const char* magic = "otfgp-hdf5-image 1\n";

}  // namespace

hid_t create_memory_hdf5_file(const std::string& name) {
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
  const hid_t creation = H5Pcreate(H5P_FILE_CREATE);
  if (access < 0 || creation < 0) return -1;
  // 1 MiB growth steps; nothing is ever written to `name` by HDF5.
  H5Pset_fapl_core(access, 1 << 20, 0);
  H5Pset_userblock(creation, user_block);
  const hid_t file = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, creation, access);
  H5Pclose(creation);
  H5Pclose(access);
  return file;
}

namespace {

const char hdf5_signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

// HDF5 looks for its signature at 0, 512, 1024, 2048, … (after a user block).
bool has_hdf5_signature(const std::vector<char>& bytes) {
  for (std::size_t at = 0; at + sizeof hdf5_signature <= bytes.size(); at = at ? 2 * at : 512)
    if (std::memcmp(bytes.data() + at, hdf5_signature, sizeof hdf5_signature) == 0) return true;
  return false;
}

double check_seconds(std::size_t bytes) {
  double base = 30;
  if (const char* text = std::getenv("OTFGP_HDF5_CHECK_SECONDS"); text && *text) {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    // At most a year: the limit goes into an alarm() and a chrono deadline.
    if (end == text || *end != '\0' || !(value > 0 && value <= 3.2e7))
      throw EnvironmentError("OTFGP_HDF5_CHECK_SECONDS",
                             "a positive number of seconds (at most 3.2e7)", text);
    base = value;
  }
  return base + static_cast<double>(bytes) / (1 << 20);
}

// The child's address space: what it has now plus room for reading the file
// (HDF5 holds the image twice, plus the largest dataset) and 1 GiB.
void limit_child_memory(std::size_t bytes) {
  std::ifstream statm("/proc/self/statm");
  unsigned long long pages = 0;
  if (!(statm >> pages)) return;
  const unsigned long long now = pages * static_cast<unsigned long long>(::sysconf(_SC_PAGESIZE));
  const unsigned long long limit = now + (1ull << 30) + 64ull * bytes;
  struct rlimit memory {};
  memory.rlim_cur = memory.rlim_max = limit;
  ::setrlimit(RLIMIT_AS, &memory);
}

[[noreturn]] void run_probe_child(const std::vector<char>& image, const std::string& name,
                                  int report, double seconds) {
  // A crash is reported by the parent, not by handlers the process had
  // installed (a test framework's, a debugger's); a hang ends with SIGALRM
  // even if the parent is gone.
  for (const int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM})
    std::signal(signal, SIG_DFL);
  ::alarm(static_cast<unsigned>(std::ceil(seconds)) + 1);
  limit_child_memory(image.size());
  std::string message;
  int code = 0;
  try {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t id = open_memory_hdf5_file(image, false);
    if (id < 0) {
      message = "HDF5 cannot open it (damaged, or not an HDF5 file)";
      code = 1;
    } else {
      // Reads every byte HDF5 can reach; with the content checksum otfgp
      // stores (root attribute "checksum"), damaged values are caught too.
      const hdf5::Group root(hdf5::Handle(id, H5Fclose), name, "/");
      if (root.has_attribute("checksum"))
        verify_hdf5_checksum(root, true);
      else
        hdf5_content_checksum(root);
    }
  } catch (const std::exception& error) {
    message = error.what();
    code = 1;
  } catch (...) {
    message = "HDF5 failed reading it";
    code = 1;
  }
  for (std::size_t written = 0; written < message.size();) {
    const ssize_t count = ::write(report, message.data() + written, message.size() - written);
    if (count <= 0 && errno != EINTR) break;
    if (count > 0) written += static_cast<std::size_t>(count);
  }
  ::_exit(code);
}

}  // namespace

Hdf5Image read_hdf5_image(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw Error(path.string() + ": is a directory, not an HDF5 file");
  std::ifstream input(path, std::ios::binary);
  if (!input) throw Error(path.string() + ": cannot open (" + std::strerror(errno) + ")");
  Hdf5Image image;
  image.bytes.assign(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
  if (input.bad()) throw Error(path.string() + ": read error");
  std::vector<char>& bytes = image.bytes;
  if (bytes.empty()) throw Error(path.string() + ": empty file, not an HDF5 file");
  const std::size_t magic_size = std::strlen(magic);
  const bool headed =
      bytes.size() >= magic_size && std::memcmp(bytes.data(), magic, magic_size) == 0;
  if (headed) {
    unsigned long long size = 0, checksum = 0;
    const std::string header(bytes.data() + magic_size,
                             std::min(bytes.size(), user_block) - magic_size);
    if (std::sscanf(header.c_str(), "size %llu fnv1a64 %llx", &size, &checksum) != 2)
      throw Error(path.string() + ": the otfgp header of this HDF5 file is damaged");
    if (bytes.size() != size)
      throw Error(path.string() + ": the file has " + std::to_string(bytes.size()) +
                  " bytes but was written with " + std::to_string(size) + ": truncated or damaged");
    if (fnv1a(bytes.data() + user_block, bytes.size() - user_block) != checksum)
      throw Error(path.string() +
                  ": the file's checksum does not match what was written: it is damaged or was "
                  "edited after otfgp wrote it");
    image.verified = true;
  }
  if (!has_hdf5_signature(bytes))
    throw Error(path.string() + ": not an HDF5 file (no HDF5 signature; damaged?)");
  return image;
}

hid_t open_memory_hdf5_file(const std::vector<char>& image, bool writable) {
  if (image.empty()) return -1;
  // A name no file can have: with an image, the core driver refuses to open a
  // name that exists; a fresh one per call, as HDF5 shares files by name.
  static std::atomic<unsigned long> serial{0};
  const std::string name = "/dev/null/otfgp-image-" + std::to_string(::getpid()) + "-" +
                           std::to_string(serial.fetch_add(1));
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
  if (access < 0) return -1;
  hid_t file = -1;
  if (H5Pset_fapl_core(access, 1 << 20, 0) >= 0 &&
      H5Pset_file_image(access, const_cast<char*>(image.data()), image.size()) >= 0)
    file = H5Fopen(name.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, access);
  H5Pclose(access);
  return file;
}

void probe_hdf5_image(const std::vector<char>& image, const std::string& name) {
  const double seconds = check_seconds(image.size());
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0)
    throw Error(name + ": cannot check the HDF5 file (pipe: " + std::strerror(errno) + ")");
  const pid_t child = ::fork();
  if (child < 0) {
    const std::string why = std::strerror(errno);
    ::close(report[0]);
    ::close(report[1]);
    throw Error(name + ": cannot check the HDF5 file (fork: " + why + ")");
  }
  if (child == 0) {
    ::close(report[0]);
    run_probe_child(image, name, report[1], seconds);
  }
  ::close(report[1]);
  std::string message;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd wait {};
    wait.fd = report[0];
    wait.events = POLLIN;
    const int ready = ::poll(&wait, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t count = ::read(report[0], buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) break;  // the child closed its end: it has finished
    message.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(report[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string prefix = name + ": damaged HDF5 file: ";
  if (timed_out || (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM))
    throw Error(prefix + "the HDF5 library did not finish reading it in " +
                std::to_string(static_cast<long>(std::ceil(seconds))) +
                " s (it loops on some damaged files; OTFGP_HDF5_CHECK_SECONDS sets the limit)");
  if (WIFSIGNALED(status))
    throw Error(prefix + "the HDF5 library crashed reading it (signal " +
                std::to_string(WTERMSIG(status)) + ")");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // The walk's message starts with the file name already.
    if (message.rfind(name, 0) == 0) throw Error(message);
    throw Error(prefix + (message.empty() ? "the HDF5 library cannot read it" : message));
  }
}

void write_hdf5_image(hid_t file, const std::filesystem::path& target) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    throw Error("cannot write '" + target.string() + "': the HDF5 image could not be completed");
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size <= 0) throw Error("cannot write '" + target.string() + "': no HDF5 image");
  std::vector<char> image(static_cast<std::size_t>(size));
  if (H5Fget_file_image(file, image.data(), image.size()) != size)
    throw Error("cannot write '" + target.string() + "': the HDF5 image could not be read");
  // The image starts at the superblock; the user block it was made for goes in front.
  if (image.size() >= sizeof hdf5_signature &&
      std::memcmp(image.data(), hdf5_signature, sizeof hdf5_signature) == 0)
    image.insert(image.begin(), user_block, '\0');
  if (image.size() < user_block)
    throw Error("cannot write '" + target.string() + "': the HDF5 image is too small");
  {
    char header[user_block] = {};
    std::snprintf(header, sizeof header, "%ssize %llu fnv1a64 %016llx\n", magic,
                  static_cast<unsigned long long>(image.size()),
                  static_cast<unsigned long long>(
                      fnv1a(image.data() + user_block, image.size() - user_block)));
    std::memcpy(image.data(), header, user_block);
  }

  const std::filesystem::path destination = through_links(target);
  check_writable(destination);
  remove_stale_temporaries(destination);
  const std::filesystem::path temporary = temporary_path(destination);
  const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (descriptor < 0)
    throw Error("cannot write '" + target.string() + "': " + std::strerror(errno));
  std::string failure;
  for (std::size_t written = 0; written < image.size();) {
    const ssize_t count = ::write(descriptor, image.data() + written, image.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      failure = count < 0 ? std::strerror(errno) : "nothing written";
      break;
    }
    written += static_cast<std::size_t>(count);
  }
  if (failure.empty() && ::fsync(descriptor) != 0) failure = std::strerror(errno);
  if (::close(descriptor) != 0 && failure.empty()) failure = std::strerror(errno);
  std::error_code error;
  if (failure.empty()) {
    std::filesystem::rename(temporary, destination, error);
    if (!error) return;
    failure = error.message();
  }
  std::filesystem::remove(temporary, error);
  throw Error("cannot write '" + target.string() + "': " + failure +
              " (disk full?); the file is unchanged");
}

std::size_t checked_element_count(hid_t dataset, const std::string& where) {
  const hid_t space = H5Dget_space(dataset);
  if (space < 0) throw Error(where + ": unreadable dataset shape (damaged file?)");
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> shape(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, shape.data(), nullptr);
  H5Sclose(space);
  if (rank < 0) throw Error(where + ": unreadable dataset shape (damaged file?)");
  constexpr double limit = 1e15;
  double elements = 1;
  for (hsize_t extent : shape) elements *= static_cast<double>(extent);
  const double stored = static_cast<double>(H5Dget_storage_size(dataset));
  if (elements > limit || elements * 8 > 1100 * stored + (1 << 20))
    throw Error(where + ": the dataset claims " + std::to_string(static_cast<long long>(elements)) +
                " elements but the file stores only " +
                std::to_string(static_cast<long long>(stored)) + " bytes of it: damaged file");
  return static_cast<std::size_t>(elements);
}

}  // namespace otfgp
