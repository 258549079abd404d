#include "otfgp/core/hdf5_image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "otfgp/error.hpp"
#include "otfgp/output_file.hpp"

namespace otfgp {

hid_t create_memory_hdf5_file(const std::string& name) {
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
  if (access < 0) return -1;
  // 1 MiB growth steps; nothing is ever written to `name` by HDF5.
  H5Pset_fapl_core(access, 1 << 20, 0);
  const hid_t file = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access);
  H5Pclose(access);
  return file;
}

void write_hdf5_image(hid_t file, const std::filesystem::path& target) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    throw Error("cannot write '" + target.string() + "': the HDF5 image could not be completed");
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size <= 0) throw Error("cannot write '" + target.string() + "': no HDF5 image");
  std::vector<char> image(static_cast<std::size_t>(size));
  if (H5Fget_file_image(file, image.data(), image.size()) != size)
    throw Error("cannot write '" + target.string() + "': the HDF5 image could not be read");

  check_writable(target);
  remove_stale_temporaries(target);
  const std::filesystem::path temporary = temporary_path(target);
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
    std::filesystem::rename(temporary, target, error);
    if (!error) return;
    failure = error.message();
  }
  std::filesystem::remove(temporary, error);
  throw Error("cannot write '" + target.string() + "': " + failure +
              " (disk full?); the file is unchanged");
}

}  // namespace otfgp
