#include "otfgp/core/hdf5.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "otfgp/core/error.hpp"
#include "otfgp/core/hdf5_checksum.hpp"
#include "otfgp/core/hdf5_image.hpp"

namespace otfgp::hdf5 {

namespace {

// HDF5 prints a stack of errors on stderr by default; otfgp reports its own.
// With a thread-safe HDF5 (Debian's) the setting is per thread.
void silence_hdf5() {
  thread_local const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

hsize_t element_count(const std::vector<hsize_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), hsize_t{1}, std::multiplies<hsize_t>());
}

std::string shape_text(const std::vector<hsize_t>& shape) {
  std::string text = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + ")";
}

// Square matrices of at least this many rows that are triangular or symmetric
// are stored packed: a vector of the upper (or lower) triangle row by row, the
// dataset's string attribute `packing` saying "upper", "lower" or "symmetric"
// (the upper triangle kept). docs/gp.md "The model file" unpacks it in numpy.
constexpr Eigen::Index pack_from_rows = 64;
constexpr const char* packing_attribute = "packing";
enum class Packing { none, upper, lower, symmetric };
constexpr const char* packing_names[] = {"", "upper", "lower", "symmetric"};

std::uint64_t bits_of(double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Compared bit for bit, so that a packed matrix reads back exactly (a −0.0 or
// a NaN off the triangle keeps the matrix whole).
Packing packing_of(const Eigen::MatrixXd& m) {
  const Eigen::Index n = m.rows();
  if (n != m.cols() || n < pack_from_rows) return Packing::none;
  bool upper = true, lower = true, symmetric = true;
  for (Eigen::Index j = 0; j < n && (upper || lower || symmetric); ++j)
    for (Eigen::Index i = j + 1; i < n; ++i) {
      const std::uint64_t below = bits_of(m(i, j)), above = bits_of(m(j, i));
      upper = upper && below == 0;
      lower = lower && above == 0;
      symmetric = symmetric && below == above;
    }
  if (upper) return Packing::upper;
  if (lower) return Packing::lower;
  return symmetric ? Packing::symmetric : Packing::none;
}

// visit(i, j) over the stored triangle of an n × n matrix, row by row:
// columns i … n−1 of row i (upper, symmetric) or 0 … i (lower).
template <class Visit>
void for_each_packed(Eigen::Index n, bool lower, Visit visit) {
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = lower ? 0 : i; j < (lower ? i + 1 : n); ++j) visit(i, j);
}

std::vector<double> packed(const Eigen::MatrixXd& m, Packing packing) {
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(m.rows() * (m.rows() + 1) / 2));
  for_each_packed(m.rows(), packing == Packing::lower,
                  [&](Eigen::Index i, Eigen::Index j) { values.push_back(m(i, j)); });
  return values;
}

Eigen::MatrixXd unpacked(const std::vector<double>& values, const std::string& packing,
                         const std::string& where) {
  const auto count = static_cast<Eigen::Index>(values.size());
  const auto n = static_cast<Eigen::Index>(std::llround((std::sqrt(8.0 * count + 1.0) - 1.0) / 2));
  const bool lower = packing == packing_names[int(Packing::lower)];
  const bool symmetric = packing == packing_names[int(Packing::symmetric)];
  if (!lower && !symmetric && packing != packing_names[int(Packing::upper)])
    throw Error(where + ": unknown packing \"" + packing + "\"");
  if (n * (n + 1) / 2 != count)
    throw Error(where + ": " + std::to_string(count) +
                " numbers are not the triangle of a square matrix");
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(n, n);
  std::size_t k = 0;
  for_each_packed(n, lower, [&](Eigen::Index i, Eigen::Index j) {
    m(i, j) = values[k];
    if (symmetric) m(j, i) = values[k];
    ++k;
  });
  return m;
}

// A scalar attribute on any object, replacing one of that name.
bool write_scalar_attribute(hid_t object, const std::string& name, hid_t file_type,
                            hid_t memory_type, const void* value) {
  if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(
      H5Acreate2(object, name.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attribute.id() >= 0 && H5Awrite(attribute.id(), memory_type, value) >= 0;
}

// Variable-length UTF-8, which h5py returns as str.
bool write_string_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  const char* text = value.c_str();
  return write_scalar_attribute(object, name, type.id(), type.id(), &text);
}

// A string attribute's value, variable-length or fixed (as h5py writes numpy bytes).
std::string read_string_attribute(hid_t attribute, const std::string& where) {
  Handle type(H5Aget_type(attribute), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_STRING) throw Error(where + ": not a string");
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory.id(), H5T_VARIABLE);
    H5Tset_cset(memory.id(), H5Tget_cset(type.id()));
    char* text = nullptr;
    if (H5Aread(attribute, memory.id(), &text) < 0) throw Error(where + ": cannot read string");
    std::string value = text ? text : "";
    Handle space(H5Aget_space(attribute), H5Sclose);
    H5Dvlen_reclaim(memory.id(), space.id(), H5P_DEFAULT, &text);
    return value;
  }
  const std::size_t size = H5Tget_size(type.id());
  std::string value(size, '\0');
  if (H5Aread(attribute, type.id(), value.data()) < 0) throw Error(where + ": cannot read string");
  value.resize(std::strlen(value.c_str()));
  return value;
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = -1;
}

Group::Group(Handle handle, std::string file, std::string path)
    : handle_(std::move(handle)), file_(std::move(file)), path_(std::move(path)) {}

std::string Group::where(const std::string& name) const {
  return file_ + ": " + (path_ == "/" ? "/" : path_ + "/") + name;
}

Group Group::create_group(const std::string& name) const {
  const hid_t id = H5Gcreate2(handle_.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw Error(where(name) + ": cannot create group");
  return Group(Handle(id, H5Gclose), file_, (path_ == "/" ? "/" : path_ + "/") + name);
}

Group Group::open_group(const std::string& name) const {
  if (!contains(name)) throw Error(where(name) + ": missing group");
  const hid_t id = H5Gopen2(handle_.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) throw Error(where(name) + ": not a group");
  return Group(Handle(id, H5Gclose), file_, (path_ == "/" ? "/" : path_ + "/") + name);
}

bool Group::contains(const std::string& name) const {
  return H5Lexists(handle_.id(), name.c_str(), H5P_DEFAULT) > 0;
}

bool Group::has_attribute(const std::string& name) const {
  return H5Aexists(handle_.id(), name.c_str()) > 0;
}

std::vector<std::string> Group::member_names() const {
  // H5Gget_info and H5Lget_name_by_idx are unchanged from HDF5 1.10 to 1.14.
  H5G_info_t info;
  if (H5Gget_info(handle_.id(), &info) < 0) throw Error(where("") + ": cannot list the group");
  std::vector<std::string> names;
  for (hsize_t k = 0; k < info.nlinks; ++k) {
    const ssize_t size = H5Lget_name_by_idx(handle_.id(), ".", H5_INDEX_NAME, H5_ITER_INC, k,
                                            nullptr, 0, H5P_DEFAULT);
    if (size < 0) continue;
    std::string name(static_cast<std::size_t>(size) + 1, '\0');
    H5Lget_name_by_idx(handle_.id(), ".", H5_INDEX_NAME, H5_ITER_INC, k, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(size));
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> Group::attribute_names() const {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  if (H5Aiterate2(handle_.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names) < 0)
    throw Error(where("") + ": cannot list the attributes");
  return names;
}

void Group::write_raw(const std::string& name, hid_t memory_type, hid_t file_type, const void* data,
                      const std::vector<hsize_t>& shape) const {
  Handle space(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
  const hsize_t count = element_count(shape);
  // Contiguous and uncompressed: deflate made a model's save 5 to 6 times as
  // long for 10-25 % less disk (docs/BENCHMARKS.md, "Saving a GP model").
  Handle dataset(H5Dcreate2(handle_.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT,
                            H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
  if (dataset.id() < 0) throw Error(where(name) + ": cannot create dataset");
  if (count > 0 && H5Dwrite(dataset.id(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw Error(where(name) + ": cannot write dataset");
}

void Group::write(const std::string& name, const Eigen::MatrixXd& matrix) const {
  if (const Packing packing = packing_of(matrix); packing != Packing::none) {
    const std::vector<double> values = packed(matrix, packing);
    write_raw(name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, values.data(),
              {static_cast<hsize_t>(values.size())});
    const Handle dataset(H5Dopen2(handle_.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!write_string_attribute(dataset.id(), packing_attribute, packing_names[int(packing)]))
      throw Error(where(name) + ": cannot write attribute " + packing_attribute);
    return;
  }
  const RowMajorMatrix row_major = matrix;
  write_raw(name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, row_major.data(),
            {static_cast<hsize_t>(matrix.rows()), static_cast<hsize_t>(matrix.cols())});
}

void Group::write(const std::string& name, const Eigen::VectorXd& vector) const {
  write_raw(name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, vector.data(),
            {static_cast<hsize_t>(vector.size())});
}

void Group::write(const std::string& name, const std::vector<double>& values,
                  const std::vector<hsize_t>& shape) const {
  if (element_count(shape) != values.size())
    throw std::invalid_argument("hdf5: shape does not match the data");
  write_raw(name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, values.data(), shape);
}

void Group::write(const std::string& name, const std::vector<int>& values,
                  const std::vector<hsize_t>& shape) const {
  if (element_count(shape) != values.size())
    throw std::invalid_argument("hdf5: shape does not match the data");
  write_raw(name, H5T_NATIVE_INT, H5T_STD_I32LE, values.data(), shape);
}

void Group::write(const std::string& name, const std::vector<int>& values) const {
  write(name, values, {static_cast<hsize_t>(values.size())});
}

void Group::append_raw(const std::string& name, hid_t memory_type, hid_t file_type,
                       const void* data, std::size_t count,
                       const std::vector<hsize_t>& row_shape) const {
  const hsize_t row = element_count(row_shape);
  if (row == 0 || count % row != 0)
    throw std::invalid_argument("hdf5: appended values are not whole rows");
  std::vector<hsize_t> added = {count / row};
  added.insert(added.end(), row_shape.begin(), row_shape.end());
  const int rank = static_cast<int>(added.size());
  Handle dataset;
  std::vector<hsize_t> start(rank, 0);
  if (!contains(name)) {
    std::vector<hsize_t> maximum = added, chunk = added, empty = added;
    maximum[0] = H5S_UNLIMITED;
    empty[0] = 0;
    chunk[0] = std::clamp<hsize_t>(4096 / row, 1, 4096);
    Handle space(H5Screate_simple(rank, empty.data(), maximum.data()), H5Sclose);
    Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(properties.id(), rank, chunk.data());
    dataset = Handle(H5Dcreate2(handle_.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT,
                                properties.id(), H5P_DEFAULT),
                     H5Dclose);
    if (dataset.id() < 0) throw Error(where(name) + ": cannot create dataset");
  } else {
    std::vector<hsize_t> shape;
    dataset = open_dataset(name, rank, shape);
    for (int k = 1; k < rank; ++k)
      if (shape[k] != added[k])
        throw Error(where(name) + ": rows of shape " + shape_text(shape) + " cannot take " +
                    shape_text(added));
    start[0] = shape[0];
  }
  if (added[0] == 0) return;
  std::vector<hsize_t> total = added;
  total[0] += start[0];
  if (H5Dset_extent(dataset.id(), total.data()) < 0) throw Error(where(name) + ": cannot grow");
  Handle file_space(H5Dget_space(dataset.id()), H5Sclose);
  H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, added.data(),
                      nullptr);
  Handle memory_space(H5Screate_simple(rank, added.data(), nullptr), H5Sclose);
  if (H5Dwrite(dataset.id(), memory_type, memory_space.id(), file_space.id(), H5P_DEFAULT, data) <
      0)
    throw Error(where(name) + ": cannot append");
}

void Group::append(const std::string& name, const std::vector<double>& values,
                   const std::vector<hsize_t>& row_shape) const {
  append_raw(name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, values.data(), values.size(), row_shape);
}

void Group::append(const std::string& name, const std::vector<int>& values,
                   const std::vector<hsize_t>& row_shape) const {
  append_raw(name, H5T_NATIVE_INT, H5T_STD_I32LE, values.data(), values.size(), row_shape);
}

Handle Group::open_dataset(const std::string& name, int rank, std::vector<hsize_t>& shape) const {
  if (!contains(name)) throw Error(where(name) + ": missing dataset");
  Handle dataset(H5Dopen2(handle_.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (dataset.id() < 0) throw Error(where(name) + ": not a dataset");
  Handle space(H5Dget_space(dataset.id()), H5Sclose);
  const int actual = H5Sget_simple_extent_ndims(space.id());
  if (actual < 0 || (rank >= 0 && actual != rank))
    throw Error(where(name) + ": expected " + std::to_string(rank) + " dimensions, found " +
                std::to_string(actual));
  shape.assign(actual, 0);
  H5Sget_simple_extent_dims(space.id(), shape.data(), nullptr);
  checked_element_count(dataset.id(), where(name));
  return dataset;
}

std::vector<double> Group::read_doubles(const std::string& name,
                                        std::vector<hsize_t>* shape_out) const {
  std::vector<hsize_t> shape;
  Handle dataset = open_dataset(name, -1, shape);
  std::vector<double> values(element_count(shape));
  if (!values.empty() &&
      H5Dread(dataset.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error(where(name) + ": cannot read as numbers");
  if (shape_out) *shape_out = shape;
  return values;
}

std::vector<int> Group::read_ints(const std::string& name, std::vector<hsize_t>* shape_out) const {
  std::vector<hsize_t> shape;
  Handle dataset = open_dataset(name, -1, shape);
  std::vector<int> values(element_count(shape));
  if (!values.empty() &&
      H5Dread(dataset.id(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error(where(name) + ": cannot read as integers");
  if (shape_out) *shape_out = shape;
  return values;
}

Eigen::MatrixXd Group::read_matrix(const std::string& name) const {
  std::vector<hsize_t> shape;
  const std::vector<double> values = read_doubles(name, &shape);
  if (shape.size() == 1 &&
      H5Aexists_by_name(handle_.id(), name.c_str(), packing_attribute, H5P_DEFAULT) > 0) {
    Handle attribute(
        H5Aopen_by_name(handle_.id(), name.c_str(), packing_attribute, H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
    if (attribute.id() < 0) throw Error(where(name) + ": cannot open attribute packing");
    return unpacked(values, read_string_attribute(attribute.id(), where(name)), where(name));
  }
  if (shape.size() != 2)
    throw Error(where(name) + ": expected a matrix, found shape " + shape_text(shape));
  Eigen::MatrixXd matrix = Eigen::Map<const RowMajorMatrix>(values.data(), shape[0], shape[1]);
  return matrix;
}

Eigen::VectorXd Group::read_vector(const std::string& name) const {
  std::vector<hsize_t> shape;
  const std::vector<double> values = read_doubles(name, &shape);
  if (shape.size() != 1)
    throw Error(where(name) + ": expected a vector, found shape " + shape_text(shape));
  return Eigen::Map<const Eigen::VectorXd>(values.data(), values.size());
}

void Group::write_attribute(const std::string& name, hid_t file_type, hid_t memory_type,
                            const void* value) const {
  if (!write_scalar_attribute(handle_.id(), name, file_type, memory_type, value))
    throw Error(where(name) + ": cannot write attribute");
}

void Group::set_attribute(const std::string& name, double value) const {
  write_attribute(name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void Group::set_attribute(const std::string& name, int value) const {
  write_attribute(name, H5T_STD_I32LE, H5T_NATIVE_INT, &value);
}

void Group::set_attribute(const std::string& name, std::int64_t value) const {
  write_attribute(name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void Group::set_attribute(const std::string& name, const std::string& value) const {
  if (!write_string_attribute(handle_.id(), name, value))
    throw Error(where(name) + ": cannot write attribute");
}

Handle Group::open_attribute(const std::string& name) const {
  if (!has_attribute(name)) throw Error(where(name) + ": missing attribute");
  Handle attribute(H5Aopen(handle_.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (attribute.id() < 0) throw Error(where(name) + ": cannot open attribute");
  return attribute;
}

double Group::double_attribute(const std::string& name) const {
  Handle attribute = open_attribute(name);
  double value = 0;
  if (H5Aread(attribute.id(), H5T_NATIVE_DOUBLE, &value) < 0)
    throw Error(where(name) + ": not a number");
  return value;
}

void Group::read_integer_attribute(const std::string& name, hid_t memory_type, void* value) const {
  Handle attribute = open_attribute(name);
  Handle type(H5Aget_type(attribute.id()), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_INTEGER) throw Error(where(name) + ": not an integer");
  if (H5Aread(attribute.id(), memory_type, value) < 0)
    throw Error(where(name) + ": not an integer");
}

int Group::int_attribute(const std::string& name) const {
  int value = 0;
  read_integer_attribute(name, H5T_NATIVE_INT, &value);
  return value;
}

std::int64_t Group::int64_attribute(const std::string& name) const {
  std::int64_t value = 0;
  read_integer_attribute(name, H5T_NATIVE_INT64, &value);
  return value;
}

std::string Group::string_attribute(const std::string& name) const {
  return read_string_attribute(open_attribute(name).id(), where(name));
}

File::File(Handle handle, const std::string& file) : Group(std::move(handle), file, "/") {}

File File::create(const std::filesystem::path& path) {
  silence_hdf5();
  // Built in memory; close() writes the finished image (core/hdf5_image.hpp).
  const hid_t id = create_memory_hdf5_file(path.string());
  if (id < 0) throw Error(path.string() + ": cannot create HDF5 file");
  return File(Handle(id, H5Fclose), path.string());
}

bool is_hdf5_file(const std::filesystem::path& path) {
  silence_hdf5();
  return H5Fis_hdf5(path.c_str()) > 0;
}

namespace {

// The file read whole and checked (its otfgp header, or else a walk of it by
// HDF5 in a child process that may hang or crash without harm), then opened
// from memory: HDF5 parses exactly the bytes that were checked.
hid_t open_checked(const std::filesystem::path& path, bool writable) {
  silence_hdf5();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw Error(path.string() + ": no such file");
  const Hdf5Image image = read_hdf5_image(path);
  if (!image.verified) probe_hdf5_image(image.bytes, path.string());
  const hid_t id = open_memory_hdf5_file(image.bytes, writable);
  if (id < 0)
    throw Error(path.string() + ": cannot open HDF5 file" + (writable ? " for writing" : ""));
  return id;
}

}  // namespace

File File::open(const std::filesystem::path& path) {
  return File(Handle(open_checked(path, false), H5Fclose), path.string());
}

File File::open_for_writing(const std::filesystem::path& path) {
  // Edits stay in memory until close() writes the whole file (hdf5_image.hpp).
  return File(Handle(open_checked(path, true), H5Fclose), path.string());
}

void File::flush() const {
  if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) throw Error(file() + ": cannot write HDF5 file");
}

void File::close() {
  // Every file otfgp writes carries its content checksum (core/hdf5_checksum.hpp),
  // which guards it even where the header of write_hdf5_image is lost.
  write_hdf5_checksum(*this);
  write_hdf5_image(id(), file());
  release();
}

}  // namespace otfgp::hdf5
