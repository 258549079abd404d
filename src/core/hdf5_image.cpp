#include "otfgp/core/hdf5_image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/output_file.hpp"

namespace otfgp {

namespace {

constexpr std::size_t user_block = 512;
constexpr const char* magic = "otfgp-hdf5-image 1\n";

std::uint64_t fnv1a(const char* data, std::size_t size) {
  std::uint64_t state = 1469598103934665603ull;
  for (std::size_t k = 0; k < size; ++k)
    state = (state ^ static_cast<unsigned char>(data[k])) * 1099511628211ull;
  return state;
}

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

void verify_hdf5_image(const std::filesystem::path& path) {
  std::ifstream input(path, std::ios::binary);
  if (!input) return;  // the caller reports a missing or unreadable file
  std::vector<char> bytes((std::istreambuf_iterator<char>(input)),
                          std::istreambuf_iterator<char>());
  const std::size_t magic_size = std::strlen(magic);
  if (bytes.size() < magic_size || std::memcmp(bytes.data(), magic, magic_size) != 0) return;
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
  const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (image.size() >= sizeof signature &&
      std::memcmp(image.data(), signature, sizeof signature) == 0)
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
