#include "support/lammps.hpp"

#include <unistd.h>
#include <Eigen/Dense>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/lattice.hpp"
#include "support/temporary_directory.hpp"

namespace otfgp::testing {

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

LammpsResult run_lammps(const Structure& structure, const LammpsSetup& setup) {
  // Lower-triangular cell L with the same lengths and angles; R maps our
  // Cartesian frame onto LAMMPS's (row vectors: L = cell · R).
  const Eigen::Matrix3d& cell = structure.cell;
  const Eigen::Matrix3d lower = lower_triangular_cell(cell);
  const Eigen::Matrix3d rotation = cell.inverse() * lower;

  const std::vector<int> species = structure.species();
  const std::string elements = symbols_text(species);

  const TemporaryDirectory scratch("otfgp-lammps");
  const std::filesystem::path& dir = scratch.path();
  {
    std::ofstream data(dir / "data.lmp");
    data.precision(17);
    data << "otfgp parity test\n\n"
         << structure.size() << " atoms\n"
         << species.size() << " atom types\n\n";
    data << "0 " << lower(0, 0) << " xlo xhi\n0 " << lower(1, 1) << " ylo yhi\n0 " << lower(2, 2)
         << " zlo zhi\n";
    data << lower(1, 0) << " " << lower(2, 0) << " " << lower(2, 1) << " xy xz yz\n\nMasses\n\n";
    for (std::size_t t = 0; t < species.size(); ++t)
      data << t + 1 << " " << element(species[t]).mass << "\n";
    data << "\nAtoms # " << (setup.charges.empty() ? "atomic" : "charge") << "\n\n";
    for (int i = 0; i < structure.size(); ++i) {
      const Eigen::RowVector3d r = structure.positions.row(i) * rotation;
      const int type =
          static_cast<int>(std::lower_bound(species.begin(), species.end(), structure.numbers[i]) -
                           species.begin()) +
          1;
      data << i + 1 << " " << type << " ";
      if (!setup.charges.empty()) data << setup.charges.at(structure.numbers[i]) << " ";
      data << r[0] << " " << r[1] << " " << r[2] << "\n";
    }
  }
  {
    std::ofstream input(dir / "in.lmp");
    input << "units metal\natom_style " << (setup.charges.empty() ? "atomic" : "charge") << "\n";
    input << "boundary p p p\nbox tilt large\nread_data data.lmp\n";
    for (const auto& command : setup.pair_commands)
      input << replace_all(command, "{elements}", elements) << "\n";
    input << "neighbor 1.0 bin\nneigh_modify one 100000 page 1000000\n";
    input << "compute virial all pressure NULL virial\n";
    input << "thermo_style custom step pe c_virial[1] c_virial[2] c_virial[3] c_virial[6] "
             "c_virial[5] c_virial[4]\n";
    input << "thermo_modify format float %.17g\n";
    input << "dump forces all custom 1 forces.dump id fx fy fz\n";
    input << "dump_modify forces format float %.17g sort id\n";
    input << "run 0\n";
  }
  const std::string command =
      "cd " + dir.string() + " && lmp -in in.lmp -log log.lammps -screen none > /dev/null 2>&1";
  const int status = std::system(command.c_str());
  const std::string log = read_file(dir / "log.lammps");
  if (status != 0) {
    throw std::runtime_error("lmp failed:\n" +
                             log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
  }

  LammpsResult result;
  std::istringstream lines(log);
  std::string line;
  bool header_seen = false, found = false;
  double virial_bar[6] = {0, 0, 0, 0, 0, 0};
  // Voigt yz xz xy are LAMMPS's pyz (6) pxz (5) pxy (4): the thermo line lists them so.
  while (std::getline(lines, line)) {
    if (line.rfind("   Step", 0) == 0 || line.rfind("Step", 0) == 0) {
      header_seen = true;
      continue;
    }
    if (header_seen && !found) {
      std::istringstream fields(line);
      int step;
      if (fields >> step >> result.energy) {
        for (double& value : virial_bar) fields >> value;
        found = true;
      }
    }
  }
  if (!found) throw std::runtime_error("could not read the thermo line from LAMMPS's log:\n" + log);
  // LAMMPS's virial pressure (bar) is the positive-for-compression tensor; ASE stress is its
  // negative. LAMMPS converts with its own metal-units constant (update.cpp: nktv2p = 1.6021765e6
  // bar per eV/Å³), which differs from CODATA in the 8th digit: use it to recover its virial
  // exactly.
  const double bar_in_ev_per_a3 = 1.0 / 1.6021765e6;
  Eigen::Matrix3d stress_lammps;
  stress_lammps << virial_bar[0], virial_bar[5], virial_bar[4], virial_bar[5], virial_bar[1],
      virial_bar[3], virial_bar[4], virial_bar[3], virial_bar[2];
  stress_lammps *= -bar_in_ev_per_a3;
  const Eigen::Matrix3d stress = rotation * stress_lammps * rotation.transpose();
  result.stress << stress(0, 0), stress(1, 1), stress(2, 2), stress(1, 2), stress(0, 2),
      stress(0, 1);

  std::ifstream dump(dir / "forces.dump");
  while (std::getline(dump, line) && line.rfind("ITEM: ATOMS", 0) != 0) {
  }
  result.forces.resize(structure.size(), 3);
  for (int i = 0; i < structure.size(); ++i) {
    int id;
    Eigen::RowVector3d f;
    dump >> id >> f[0] >> f[1] >> f[2];
    result.forces.row(id - 1) = f * rotation.transpose();
  }
  return result;
}

}  // namespace otfgp::testing
