#pragma once
// A thin RAII layer over the HDF5 C API for otfgp's files (GP models, training
// databases): groups, numeric datasets of any rank stored row-major (as h5py
// and numpy see them), and scalar or string attributes. Every failure is an
// otfgp::Error naming the file and the object; HDF5's own error printing is off.

#include <hdf5.h>

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace otfgp::hdf5 {

// Owns one HDF5 identifier and closes it.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  void reset();

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using IntMatrix = Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A file's root or one of its groups.
class Group {
 public:
  Group(Handle handle, std::string file, std::string path);

  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  Group create_group(const std::string& name) const;
  // Throws otfgp::Error naming the file and the missing group.
  Group open_group(const std::string& name) const;
  bool contains(const std::string& name) const;
  bool has_attribute(const std::string& name) const;
  // Names of the links (groups, datasets) and of the attributes here, in name order.
  std::vector<std::string> member_names() const;
  std::vector<std::string> attribute_names() const;

  // Datasets, uncompressed. Square triangular or symmetric matrices of 64 rows or
  // more are stored packed, read_matrix unpacks them (hdf5.cpp, docs/gp.md).
  void write(const std::string& name, const Eigen::MatrixXd& matrix) const;
  void write(const std::string& name, const Eigen::VectorXd& vector) const;
  void write(const std::string& name, const std::vector<double>& values,
             const std::vector<hsize_t>& shape) const;
  void write(const std::string& name, const std::vector<int>& values,
             const std::vector<hsize_t>& shape) const;
  void write(const std::string& name, const std::vector<int>& values) const;
  // Appends rows to a dataset that grows along its first dimension (chunked,
  // unlimited; created on the first append). `row_shape` is the shape of one
  // row (empty for a vector); values.size() must be a multiple of its size.
  void append(const std::string& name, const std::vector<double>& values,
              const std::vector<hsize_t>& row_shape = {}) const;
  void append(const std::string& name, const std::vector<int>& values,
              const std::vector<hsize_t>& row_shape = {}) const;

  // Reading checks the rank (and, where given, the shape) and names the dataset on failure.
  Eigen::MatrixXd read_matrix(const std::string& name) const;
  Eigen::VectorXd read_vector(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name,
                                   std::vector<hsize_t>* shape = nullptr) const;
  std::vector<int> read_ints(const std::string& name, std::vector<hsize_t>* shape = nullptr) const;

  // Attributes on this group.
  void set_attribute(const std::string& name, double value) const;
  void set_attribute(const std::string& name, int value) const;
  void set_attribute(const std::string& name, std::int64_t value) const;
  void set_attribute(const std::string& name, const std::string& value) const;
  void set_attribute(const std::string& name, const char* value) const {
    set_attribute(name, std::string(value));
  }
  double double_attribute(const std::string& name) const;
  int int_attribute(const std::string& name) const;
  std::int64_t int64_attribute(const std::string& name) const;
  std::string string_attribute(const std::string& name) const;

  hid_t id() const { return handle_.id(); }

 protected:
  void release() { handle_.reset(); }

 private:
  std::string where(const std::string& name) const;
  Handle open_dataset(const std::string& name, int rank, std::vector<hsize_t>& shape) const;
  Handle open_attribute(const std::string& name) const;
  void write_attribute(const std::string& name, hid_t file_type, hid_t memory_type,
                       const void* value) const;
  void read_integer_attribute(const std::string& name, hid_t memory_type, void* value) const;
  void write_raw(const std::string& name, hid_t memory_type, hid_t file_type, const void* data,
                 const std::vector<hsize_t>& shape) const;
  void append_raw(const std::string& name, hid_t memory_type, hid_t file_type, const void* data,
                  std::size_t count, const std::vector<hsize_t>& row_shape) const;

  Handle handle_;
  std::string file_;
  std::string path_;
};

// Whether `path` is an HDF5 file (without HDF5 printing its error stack).
bool is_hdf5_file(const std::filesystem::path& path);

class File : public Group {
 public:
  // Creates (or truncates) a file for writing.
  static File create(const std::filesystem::path& path);
  // Opens an existing file read-only; throws otfgp::Error when it is missing,
  // not HDF5 or damaged. The file is read whole and checked first (its otfgp
  // header, or else a walk by HDF5 in a child process: hdf5_image.hpp), then
  // opened from those bytes in memory.
  static File open(const std::filesystem::path& path);
  // The same, for changes (appending to datasets); they stay in memory until
  // close() writes the whole file.
  static File open_for_writing(const std::filesystem::path& path);
  // Pushes everything written so far to the file (H5Fflush).
  void flush() const;
  // Flushes and closes; errors surface here rather than in the destructor.
  void close();

 private:
  File(Handle handle, const std::string& file);
};

}  // namespace otfgp::hdf5
