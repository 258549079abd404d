#include <hdf5.h>
#include <unistd.h>

#include <cstdint>
#include <system_error>

#include "otfgp/core/hdf5_image.hpp"
#include "otfgp/error.hpp"
#include "otfgp/md_restart.hpp"
#include "otfgp/output_file.hpp"
#include "otfgp/version.hpp"

namespace otfgp::md {

namespace {

// HDF5 reports through its own error stack and prints it by default; the
// messages here name the file instead, so printing is off while we work.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &function_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, function_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
};

// An HDF5 identifier closed by the right function when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class Writer {
 public:
  explicit Writer(const std::filesystem::path& path) : path_(path) {}

  void check(herr_t status, const std::string& what) const {
    if (status < 0)
      throw Error("cannot write restart file '" + path_.string() + "': " + what + " failed");
  }

  void dataset(hid_t location, const char* name, hid_t file_type, hid_t memory_type,
               const std::vector<hsize_t>& shape, const void* data) const {
    Handle space(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
    Handle set(H5Dcreate2(location, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose);
    if (!space.valid() || !set.valid()) check(-1, std::string("creating ") + name);
    check(H5Dwrite(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
          std::string("writing ") + name);
  }

  void attribute(hid_t location, const char* name, hid_t file_type, hid_t memory_type,
                 const void* data) const {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(location, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) check(-1, std::string("creating attribute ") + name);
    check(H5Awrite(attr, memory_type, data), std::string("writing attribute ") + name);
  }

  void string_attribute(hid_t location, const char* name, const std::string& value) const {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    check(H5Tset_size(type, H5T_VARIABLE), "string type");
    check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
    const char* text = value.c_str();
    attribute(location, name, type, type, &text);
  }

 private:
  std::filesystem::path path_;
};

class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("restart file '" + path_.string() + "': " + what);
  }

  std::vector<hsize_t> shape(hid_t set) const {
    Handle space(H5Dget_space(set), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) fail("unreadable dataset shape");
    std::vector<hsize_t> dims(rank);
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    return dims;
  }

  std::vector<double> doubles(hid_t location, const char* name,
                              const std::vector<hsize_t>& expected) const {
    Handle set(H5Dopen2(location, name, H5P_DEFAULT), H5Dclose);
    if (!set.valid()) fail(std::string("missing dataset '") + name + "'");
    const auto dims = shape(set);
    checked_element_count(set, "restart file '" + path_.string() + "': " + name);
    if (!expected.empty() && dims != expected)
      fail(std::string("dataset '") + name + "' has the wrong shape");
    std::size_t count = 1;
    for (hsize_t d : dims) count *= d;
    std::vector<double> values(count);
    if (count > 0 &&
        H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
      fail(std::string("cannot read dataset '") + name + "'");
    return values;
  }

  std::vector<int> ints(hid_t location, const char* name) const {
    Handle set(H5Dopen2(location, name, H5P_DEFAULT), H5Dclose);
    if (!set.valid()) fail(std::string("missing dataset '") + name + "'");
    const auto dims = shape(set);
    checked_element_count(set, "restart file '" + path_.string() + "': " + name);
    if (dims.size() != 1) fail(std::string("dataset '") + name + "' must be one-dimensional");
    std::vector<int> values(dims[0]);
    if (dims[0] > 0 &&
        H5Dread(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
      fail(std::string("cannot read dataset '") + name + "'");
    return values;
  }

  template <class T>
  T scalar_attribute(hid_t location, const char* name, hid_t memory_type) const {
    Handle attr(H5Aopen(location, name, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) fail(std::string("missing attribute '") + name + "'");
    T value{};
    if (H5Aread(attr, memory_type, &value) < 0)
      fail(std::string("cannot read attribute '") + name + "'");
    return value;
  }

  std::string string_attribute(hid_t location, const char* name) const {
    Handle attr(H5Aopen(location, name, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) fail(std::string("missing attribute '") + name + "'");
    Handle type(H5Aget_type(attr), H5Tclose);
    if (H5Tget_class(type) != H5T_STRING)
      fail(std::string("attribute '") + name + "' is not a string");
    if (H5Tis_variable_str(type) > 0) {
      char* text = nullptr;
      Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(memory, H5T_VARIABLE);
      H5Tset_cset(memory, H5Tget_cset(type));
      if (H5Aread(attr, memory, &text) < 0)
        fail(std::string("cannot read attribute '") + name + "'");
      std::string value = text ? text : "";
      Handle space(H5Aget_space(attr), H5Sclose);
      H5Dvlen_reclaim(memory, space, H5P_DEFAULT, &text);
      return value;
    }
    const std::size_t size = H5Tget_size(type);
    std::string value(size, '\0');
    if (H5Aread(attr, type, value.data()) < 0)
      fail(std::string("cannot read attribute '") + name + "'");
    value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
    return value;
  }

 private:
  std::filesystem::path path_;
};

// Link names of a group, in name order (H5Gget_info and H5Lget_name_by_idx
// exist unchanged in HDF5 1.10 to 1.14).
std::vector<std::string> member_names(hid_t group) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) return {};
  std::vector<std::string> names;
  for (hsize_t k = 0; k < info.nlinks; ++k) {
    const ssize_t size =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, k, nullptr, 0, H5P_DEFAULT);
    if (size < 0) continue;
    std::string name(static_cast<std::size_t>(size) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, k, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(size));
    names.push_back(name);
  }
  return names;
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

void write_restart_file(const std::filesystem::path& path, const RestartData& data) {
  const QuietHdf5 quiet;
  const auto directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(directory))
    throw Error("cannot write restart file '" + path.string() + "': directory '" +
                directory.string() + "' does not exist");
  const Writer writer(path);
  const int n = data.structure.size();
  try {
    {
      // Built in memory and written whole by write_hdf5_image (temporary + rename).
      Handle file(create_memory_hdf5_file(path.string()), H5Fclose);
      if (!file.valid())
        throw Error("cannot write restart file '" + path.string() +
                    "': permission denied or disk full");
      const int version = restart_format_version;
      writer.attribute(file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version);
      writer.string_attribute(file, "program", std::string("otfgp ") + otfgp::version);
      const std::int64_t step = data.step;
      writer.attribute(file, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &step);
      writer.attribute(file, "time_fs", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &data.time);
      writer.string_attribute(file, "potential", data.potential);
      writer.string_attribute(file, "settings", data.settings);

      const std::vector<hsize_t> atoms3 = {static_cast<hsize_t>(n), 3};
      writer.dataset(file, "positions", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, atoms3,
                     data.structure.positions.data());
      if (data.velocities.rows() != n)
        throw Error("restart data: velocities do not match the atoms");
      writer.dataset(file, "velocities", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, atoms3,
                     data.velocities.data());
      writer.dataset(file, "numbers", H5T_STD_I32LE, H5T_NATIVE_INT, {static_cast<hsize_t>(n)},
                     data.structure.numbers.data());
      double cell[9];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) cell[3 * a + b] = data.structure.cell(a, b);
      writer.dataset(file, "cell", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {3, 3}, cell);
      const std::int8_t pbc[3] = {data.structure.pbc[0], data.structure.pbc[1],
                                  data.structure.pbc[2]};
      writer.dataset(file, "pbc", H5T_STD_I8LE, H5T_NATIVE_INT8, {3}, pbc);

      Handle integrator(H5Gcreate2(file, "integrator", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        H5Gclose);
      writer.check(integrator.valid() ? 0 : -1, "creating group integrator");
      for (const auto& [name, values] : data.integrator)
        writer.dataset(integrator, name.c_str(), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {values.size()},
                       values.data());
      const std::vector<double> statistics = data.statistics.to_vector();
      writer.dataset(file, "statistics", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {statistics.size()},
                     statistics.data());
      Handle outputs(H5Gcreate2(file, "outputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      writer.check(outputs.valid() ? 0 : -1, "creating group outputs");
      for (const auto& [name, size] : data.output_sizes) {
        const std::int64_t bytes = size;
        writer.attribute(outputs, name.c_str(), H5T_STD_I64LE, H5T_NATIVE_INT64, &bytes);
      }
      write_hdf5_image(file, path);
    }
  } catch (const Error& error) {
    throw Error(std::string("restart file: ") + error.what());
  }
}

RestartData read_restart_file(const std::filesystem::path& path) {
  const QuietHdf5 quiet;
  if (!std::filesystem::exists(path))
    throw Error("restart file '" + path.string() + "' does not exist");
  try {
    verify_hdf5_image(path);
  } catch (const Error& error) {
    throw Error(std::string("restart file ") + error.what());
  }
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw Error("restart file '" + path.string() +
                "' is not an HDF5 file (damaged, or not a restart file)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw Error("cannot open restart file '" + path.string() + "'");
  const Reader reader(path);
  const int version = reader.scalar_attribute<int>(file, "format_version", H5T_NATIVE_INT);
  if (version != restart_format_version)
    reader.fail("format_version " + std::to_string(version) + ", this otfgp reads version " +
                std::to_string(restart_format_version));

  RestartData data;
  data.step = reader.scalar_attribute<std::int64_t>(file, "step", H5T_NATIVE_INT64);
  data.time = reader.scalar_attribute<double>(file, "time_fs", H5T_NATIVE_DOUBLE);
  data.potential = reader.string_attribute(file, "potential");
  data.settings = reader.string_attribute(file, "settings");
  const std::vector<int> numbers = reader.ints(file, "numbers");
  const hsize_t n = numbers.size();
  const auto positions = reader.doubles(file, "positions", {n, 3});
  const auto velocities = reader.doubles(file, "velocities", {n, 3});
  const auto cell = reader.doubles(file, "cell", {3, 3});
  const auto pbc = reader.ints(file, "pbc");
  if (pbc.size() != 3) reader.fail("dataset 'pbc' must hold three flags");
  data.structure.numbers = numbers;
  data.structure.positions = Eigen::Map<const Positions>(positions.data(), n, 3);
  data.velocities = Eigen::Map<const Positions>(velocities.data(), n, 3);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) data.structure.cell(a, b) = cell[3 * a + b];
  data.structure.pbc = {pbc[0] != 0, pbc[1] != 0, pbc[2] != 0};
  try {
    data.structure.validate();
  } catch (const Error& error) {
    reader.fail(error.what());
  }

  Handle integrator(H5Gopen2(file, "integrator", H5P_DEFAULT), H5Gclose);
  if (!integrator.valid()) reader.fail("missing group 'integrator'");
  for (const auto& name : member_names(integrator))
    data.integrator[name] = reader.doubles(integrator, name.c_str(), {});
  try {
    data.statistics = RunStatistics::from_vector(reader.doubles(file, "statistics", {}));
  } catch (const Error& error) {
    reader.fail(error.what());
  }
  Handle outputs(H5Gopen2(file, "outputs", H5P_DEFAULT), H5Gclose);
  if (!outputs.valid()) reader.fail("missing group 'outputs'");
  std::vector<std::string> attributes;
  H5Aiterate2(outputs, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute, &attributes);
  for (const auto& name : attributes)
    data.output_sizes[name] =
        reader.scalar_attribute<std::int64_t>(outputs, name.c_str(), H5T_NATIVE_INT64);
  return data;
}

}  // namespace otfgp::md
