#include <cstdint>

#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/hdf5.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/version.hpp"
#include "otfgp/md/restart.hpp"

namespace otfgp::md {

namespace {

std::vector<double> values_of(const Positions& rows) {
  return std::vector<double>(rows.data(), rows.data() + rows.size());
}

void write_contents(const hdf5::File& file, const RestartData& data) {
  const int n = data.structure.size();
  const bool masses = find_extra_property(data.structure, "masses") != nullptr;
  file.set_attribute("format_version",
                     masses ? restart_format_with_masses : restart_format_version);
  file.set_attribute("program", std::string("otfgp ") + otfgp::version);
  file.set_attribute("step", std::int64_t{data.step});
  file.set_attribute("time_fs", data.time);
  file.set_attribute("potential", data.potential);
  file.set_attribute("settings", data.settings);

  const std::vector<hsize_t> atoms3 = {static_cast<hsize_t>(n), 3};
  file.write("positions", values_of(data.structure.positions), atoms3);
  if (data.velocities.rows() != n) throw Error("restart data: velocities do not match the atoms");
  file.write("velocities", values_of(data.velocities), atoms3);
  file.write("numbers", data.structure.numbers);
  // Masses other than the elements' (a `masses` column of the starting structure).
  if (masses) {
    const Eigen::MatrixXd masses = real_property(data.structure, "masses");
    file.write("masses", std::vector<double>(masses.data(), masses.data() + n),
               {static_cast<hsize_t>(n)});
  }
  std::vector<double> cell(9);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) cell[3 * a + b] = data.structure.cell(a, b);
  file.write("cell", cell, {3, 3});
  file.write("pbc",
             std::vector<int>{data.structure.pbc[0], data.structure.pbc[1], data.structure.pbc[2]});

  const hdf5::Group integrator = file.create_group("integrator");
  for (const auto& [name, values] : data.integrator)
    integrator.write(name, values, {values.size()});
  const std::vector<double> statistics = data.statistics.to_vector();
  file.write("statistics", statistics, {statistics.size()});
  const hdf5::Group outputs = file.create_group("outputs");
  for (const auto& [name, size] : data.output_sizes)
    outputs.set_attribute(name, std::int64_t{size});
}

// A dataset of doubles with the expected shape (any shape when `expected` is empty).
std::vector<double> read_doubles(const hdf5::Group& group, const std::string& name,
                                 const std::vector<hsize_t>& expected) {
  std::vector<hsize_t> shape;
  std::vector<double> values = group.read_doubles(name, &shape);
  if (!expected.empty() && shape != expected)
    throw Error(group.file() + ": dataset '" + name + "' has the wrong shape");
  return values;
}

void read_structure(const hdf5::File& file, RestartData& data) {
  const std::vector<int> numbers = file.read_ints("numbers");
  const hsize_t n = numbers.size();
  const auto positions = read_doubles(file, "positions", {n, 3});
  const auto velocities = read_doubles(file, "velocities", {n, 3});
  const auto cell = read_doubles(file, "cell", {3, 3});
  const auto pbc = file.read_ints("pbc");
  if (pbc.size() != 3) throw Error(file.file() + ": dataset 'pbc' must hold three flags");
  data.structure.numbers = numbers;
  data.structure.positions = Eigen::Map<const Positions>(positions.data(), n, 3);
  data.velocities = Eigen::Map<const Positions>(velocities.data(), n, 3);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) data.structure.cell(a, b) = cell[3 * a + b];
  data.structure.pbc = {pbc[0] != 0, pbc[1] != 0, pbc[2] != 0};
  if (file.contains("masses"))
    set_real_property(data.structure, "masses", read_doubles(file, "masses", {n}));
  data.structure.validate();
}

RestartData read_contents(const hdf5::File& file) {
  const int version = file.int_attribute("format_version");
  if (version != restart_format_version && version != restart_format_with_masses)
    throw Error("format_version " + std::to_string(version) + ", this otfgp reads versions " +
                std::to_string(restart_format_version) + " and " +
                std::to_string(restart_format_with_masses));
  if ((version == restart_format_with_masses) != file.contains("masses"))
    throw Error("format_version " + std::to_string(version) +
                (file.contains("masses") ? " has" : " lacks") + " a masses dataset");
  RestartData data;
  data.step = file.int64_attribute("step");
  data.time = file.double_attribute("time_fs");
  data.potential = file.string_attribute("potential");
  data.settings = file.string_attribute("settings");
  read_structure(file, data);
  const hdf5::Group integrator = file.open_group("integrator");
  for (const auto& name : integrator.member_names())
    data.integrator[name] = read_doubles(integrator, name, {});
  data.statistics = RunStatistics::from_vector(read_doubles(file, "statistics", {}));
  const hdf5::Group outputs = file.open_group("outputs");
  for (const auto& name : outputs.attribute_names())
    data.output_sizes[name] = outputs.int64_attribute(name);
  return data;
}

}  // namespace

void write_restart_file(const std::filesystem::path& path, const RestartData& data) {
  const auto directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(directory))
    throw Error("cannot write restart file '" + path.string() + "': directory '" +
                directory.string() + "' does not exist");
  ReplacingFile output(path);
  try {
    hdf5::File file = hdf5::File::create(output.temporary());
    write_contents(file, data);
    file.close();
  } catch (const Error& error) {
    throw Error("cannot write restart file '" + path.string() + "': " + error.what());
  }
  output.commit();
}

RestartData read_restart_file(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw Error("restart file '" + path.string() + "' does not exist");
  if (!hdf5::is_hdf5_file(path))
    throw Error("restart file '" + path.string() +
                "' is not an HDF5 file (damaged, or not a restart file)");
  try {
    return read_contents(hdf5::File::open(path));
  } catch (const Error& error) {
    throw Error("restart file '" + path.string() + "': " + error.what());
  }
}

}  // namespace otfgp::md
