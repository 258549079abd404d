// Embedded-atom method from LAMMPS's tabulated files, evaluated exactly as
// LAMMPS does (pair_style eam, eam/alloy, eam/fs):
//
//   E = Σ_i F_i(ρ_i) + ½ Σ_i Σ_j φ_ij(r_ij),   ρ_i = Σ_j ρ_{j→i}(r_ij)
//
// Specs:
//   eam:FILE[,FILE…]        DYNAMO funcfl files (Cu_u3.eam), one element each; the
//                           element is the atomic number on the file's second line,
//                           or give it as Symbol=FILE. Cross pairs use
//                           φ_ij = 27.2·0.529·Z_i(r)·Z_j(r)/r, as LAMMPS.
//   eam/alloy:FILE          DYNAMO setfl file (CuNi.eam.alloy), elements by name.
//   eam/fs:FILE             Finnis–Sinclair setfl file with a density per element pair.
// Bare names are looked up in /usr/share/lammps/potentials (see parameter_file.hpp).
//
// Parity with LAMMPS to round-off needs its interpolation, reproduced here:
// funcfl tables are first resampled onto one common grid with 4-point
// Lagrange interpolation (LAMMPS's file2array), every table becomes a cubic
// spline with 7 coefficients per interval built from finite-difference slopes
// (array2spline/interpolate), and lookups use p = x/Δ + 1, m = int(p) clamped,
// p −= m, p = min(p, 1). Beyond ρ_max, F continues linearly with the slope at
// the last interval, which keeps forces the exact derivative.

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "pair_loop.hpp"
#include "parameter_file.hpp"

namespace otfgp {

namespace {

// 1-based tables as in LAMMPS (index 0 unused), so its index arithmetic carries over verbatim.
using Table = std::vector<double>;

// The tabulation grid line every EAM file has: "nrho drho nr dr cutoff".
struct EamGrid {
  int nrho = 0, nr = 0;
  double drho = 0, dr = 0, cut = 0;  // ρ spacing, r spacing (Å), cutoff (Å)
};

// One funcfl file: F(ρ), Z(r) (effective charge, √(Hartree·Bohr)) and ρ(r) of one element.
struct FuncflFile : EamGrid {
  std::string path, spec_argument;
  int number = 0;  // atomic number
  double mass = 0;
  Table frho, zr, rhor;
};

// A setfl (eam/alloy) or Finnis–Sinclair (eam/fs) file.
struct SetflFile : EamGrid {
  std::string path, spec_argument;
  bool finnis_sinclair = false;
  std::vector<std::string> symbols;
  std::vector<int> numbers;
  std::vector<Table> frho;  // per element
  std::vector<Table> rhor;  // alloy: per element; fs: [i·n + j], density of i's block j
  std::vector<std::vector<Table>> z2r;  // r·φ, z2r[i][j] for j ≤ i
};

// LAMMPS's "standard array format" for the species bound to one calculation.
struct EamArrays {
  int nrho = 0, nr = 0;
  double drho = 0, dr = 0, rhomax = 0, cutoff = 0;
  std::vector<Table> frho, rhor, z2r;
  std::vector<int> type2frho;               // [type]
  std::vector<std::vector<int>> type2rhor;  // [source type][target type]
  std::vector<std::vector<int>> type2z2r;   // [type][type]
};

int lower_triangle_index(int a, int b) {
  const int row = std::max(a, b), column = std::min(a, b);
  return row * (row + 1) / 2 + column;
}

void read_grid(ParameterFileReader& reader, EamGrid& grid) {
  const auto words = reader.next_words("nrho drho nr dr cutoff");
  if (words.size() < 5) throw Error(reader.where() + "expected nrho drho nr dr cutoff");
  grid.nrho = reader.to_integer(words[0], "nrho");
  grid.drho = reader.to_number(words[1], "drho");
  grid.nr = reader.to_integer(words[2], "nr");
  grid.dr = reader.to_number(words[3], "dr");
  grid.cut = reader.to_number(words[4], "cutoff");
  // make_splines needs five points for its 5-point slopes.
  if (grid.nrho < 5 || grid.nr < 5 || !(grid.drho > 0) || !(grid.dr > 0) || !(grid.cut > 0))
    throw Error(reader.where() + "need nrho, nr ≥ 5 and positive drho, dr, cutoff");
  // Tables are resampled onto one grid: absurd extents would overflow it.
  constexpr int max_points = 10000000;
  constexpr double max_range = 1e4;  // Å
  if (grid.nrho > max_points || grid.nr > max_points || !((grid.nr - 1) * grid.dr <= max_range) ||
      !std::isfinite((grid.nrho - 1) * grid.drho) || !(grid.cut <= max_range))
    throw Error(reader.where() + "the tables are absurdly large (at most " +
                std::to_string(max_points) + " points, r and the cutoff up to 1e4 Å)");
}

FuncflFile read_funcfl(const std::string& name, int forced_number,
                       const std::filesystem::path& config_dir) {
  const auto location = find_parameter_file(name, "eam", config_dir);
  ParameterFileReader reader(location.path, "eam");
  FuncflFile file;
  file.path = location.path.string();
  file.spec_argument = location.spec_argument;
  reader.skip_line();
  const auto header = reader.next_words("the atomic number and mass");
  if (header.size() < 2) throw Error(reader.where() + "expected the atomic number and the mass");
  file.number = reader.to_integer(header[0], "atomic number");
  file.mass = reader.to_number(header[1], "mass");
  if (forced_number > 0) {
    file.number = forced_number;
  } else if (file.number < 1 || file.number > max_atomic_number) {
    throw Error(reader.where() + "atomic number " + header[0] +
                " is not an element; name it in the spec as Symbol=" + name);
  }
  read_grid(reader, file);
  file.frho = reader.next_table(file.nrho, "F(rho)");
  file.zr = reader.next_table(file.nr, "Z(r)");
  file.rhor = reader.next_table(file.nr, "rho(r)");
  return file;
}

SetflFile read_setfl(const std::string& name, bool finnis_sinclair,
                     const std::filesystem::path& config_dir) {
  const std::string owner = finnis_sinclair ? "eam/fs" : "eam/alloy";
  const auto location = find_parameter_file(name, owner, config_dir);
  ParameterFileReader reader(location.path, owner);
  SetflFile file;
  file.path = location.path.string();
  file.spec_argument = location.spec_argument;
  file.finnis_sinclair = finnis_sinclair;
  for (int k = 0; k < 3; ++k) reader.skip_line();
  const auto species = reader.next_words("the element count and names");
  const int count = reader.to_integer(species[0], "element count");
  if (count < 1 || static_cast<int>(species.size()) != count + 1)
    throw Error(reader.where() + "expected the element count followed by that many element names");
  for (int e = 0; e < count; ++e) {
    const int z = find_atomic_number(species[e + 1]);
    if (z == 0) throw Error(reader.where() + "'" + species[e + 1] + "' is not an element symbol");
    file.symbols.push_back(species[e + 1]);
    file.numbers.push_back(z);
  }
  read_grid(reader, file);
  for (int e = 0; e < count; ++e) {
    const std::string& symbol = file.symbols[e];
    reader.next_words("the header line of " + symbol);  // Z mass a0 lattice: not needed here
    file.frho.push_back(reader.next_table(file.nrho, "F(rho) of " + symbol));
    if (finnis_sinclair) {
      for (int f = 0; f < count; ++f)
        file.rhor.push_back(
            reader.next_table(file.nr, "rho(r) of " + symbol + "-" + file.symbols[f]));
    } else {
      file.rhor.push_back(reader.next_table(file.nr, "rho(r) of " + symbol));
    }
  }
  file.z2r.resize(count);
  for (int i = 0; i < count; ++i)
    for (int j = 0; j <= i; ++j)
      file.z2r[i].push_back(
          reader.next_table(file.nr, "r*phi(r) of " + file.symbols[i] + "-" + file.symbols[j]));
  return file;
}

// LAMMPS's 4-point Lagrange resampling of a funcfl table onto the common grid (file2array).
double resample(const Table& values, int n_file, double spacing_file, double x) {
  double p = x / spacing_file + 1.0;
  int k = static_cast<int>(p);
  k = std::min(k, n_file - 2);
  k = std::max(k, 2);
  p -= k;
  p = std::min(p, 2.0);
  const double sixth = 1.0 / 6.0;
  const double c1 = -sixth * p * (p - 1.0) * (p - 2.0);
  const double c2 = 0.5 * (p * p - 1.0) * (p - 2.0);
  const double c3 = -0.5 * p * (p + 1.0) * (p - 2.0);
  const double c4 = sixth * p * (p * p - 1.0);
  return c1 * values[k - 1] + c2 * values[k] + c3 * values[k + 1] + c4 * values[k + 2];
}

// funcfl files of the bound types onto one grid (the largest spacings and ranges among them).
EamArrays arrays_from_funcfl(const std::vector<const FuncflFile*>& type_files) {
  std::vector<const FuncflFile*> files;  // distinct, in order of first use
  std::vector<int> type_to_file;
  for (const FuncflFile* file : type_files) {
    auto found = std::find(files.begin(), files.end(), file);
    if (found == files.end()) found = files.insert(files.end(), file);
    type_to_file.push_back(static_cast<int>(found - files.begin()));
  }
  EamArrays arrays;
  double rmax = 0;
  for (const FuncflFile* file : files) {
    arrays.dr = std::max(arrays.dr, file->dr);
    arrays.drho = std::max(arrays.drho, file->drho);
    rmax = std::max(rmax, (file->nr - 1) * file->dr);
    arrays.rhomax = std::max(arrays.rhomax, (file->nrho - 1) * file->drho);
    arrays.cutoff = std::max(arrays.cutoff, file->cut);
  }
  // The + 0.5 is LAMMPS's guard against round-off in the division.
  arrays.nr = static_cast<int>(rmax / arrays.dr + 0.5);
  arrays.nrho = static_cast<int>(arrays.rhomax / arrays.drho + 0.5);

  for (const FuncflFile* file : files) {
    Table frho(arrays.nrho + 1, 0.0), rhor(arrays.nr + 1, 0.0);
    for (int m = 1; m <= arrays.nrho; ++m)
      frho[m] = resample(file->frho, file->nrho, file->drho, (m - 1) * arrays.drho);
    for (int m = 1; m <= arrays.nr; ++m)
      rhor[m] = resample(file->rhor, file->nr, file->dr, (m - 1) * arrays.dr);
    arrays.frho.push_back(std::move(frho));
    arrays.rhor.push_back(std::move(rhor));
  }
  // Hartree·Bohr in eV·Å with LAMMPS's rounded constants.
  const double hartree_bohr = 27.2 * 0.529;
  for (std::size_t i = 0; i < files.size(); ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      Table z2r(arrays.nr + 1, 0.0);
      for (int m = 1; m <= arrays.nr; ++m) {
        const double r = (m - 1) * arrays.dr;
        const double zi = resample(files[i]->zr, files[i]->nr, files[i]->dr, r);
        const double zj = resample(files[j]->zr, files[j]->nr, files[j]->dr, r);
        z2r[m] = hartree_bohr * zi * zj;
      }
      arrays.z2r.push_back(std::move(z2r));
    }
  const int ntypes = static_cast<int>(type_files.size());
  arrays.type2rhor.assign(ntypes, std::vector<int>(ntypes));
  arrays.type2z2r.assign(ntypes, std::vector<int>(ntypes));
  for (int a = 0; a < ntypes; ++a) {
    arrays.type2frho.push_back(type_to_file[a]);
    for (int b = 0; b < ntypes; ++b) {
      arrays.type2rhor[a][b] = type_to_file[a];
      arrays.type2z2r[a][b] = lower_triangle_index(type_to_file[a], type_to_file[b]);
    }
  }
  return arrays;
}

EamArrays arrays_from_setfl(const SetflFile& file, const std::vector<int>& type_to_element) {
  EamArrays arrays;
  arrays.nrho = file.nrho;
  arrays.nr = file.nr;
  arrays.drho = file.drho;
  arrays.dr = file.dr;
  arrays.rhomax = (file.nrho - 1) * file.drho;
  arrays.cutoff = file.cut;
  arrays.frho = file.frho;
  arrays.rhor = file.rhor;
  for (const auto& row : file.z2r)
    for (const auto& table : row) arrays.z2r.push_back(table);
  const int ntypes = static_cast<int>(type_to_element.size());
  const int n = static_cast<int>(file.numbers.size());
  arrays.type2rhor.assign(ntypes, std::vector<int>(ntypes));
  arrays.type2z2r.assign(ntypes, std::vector<int>(ntypes));
  for (int a = 0; a < ntypes; ++a) {
    const int ea = type_to_element[a];
    arrays.type2frho.push_back(ea);
    for (int b = 0; b < ntypes; ++b) {
      const int eb = type_to_element[b];
      arrays.type2rhor[a][b] = file.finnis_sinclair ? ea * n + eb : ea;
      arrays.type2z2r[a][b] = lower_triangle_index(ea, eb);
    }
  }
  return arrays;
}

// Spline coefficients per interval m (1-based), LAMMPS's layout: [0..2] the
// derivative's quadratic in p (already divided by the spacing), [3..6] the value's cubic.
using SplineView = Kokkos::View<double** [7], Kokkos::LayoutRight, MemSpace>;

SplineView make_splines(const std::string& label, const std::vector<Table>& tables, int n,
                        double delta) {
  SplineView splines(label, tables.size(), n + 1);
  auto host = Kokkos::create_mirror_view(splines);
  for (std::size_t t = 0; t < tables.size(); ++t) {
    const Table& f = tables[t];
    auto s = [&](int m, int c) -> double& { return host(t, m, c); };
    for (int m = 1; m <= n; ++m) s(m, 6) = f[m];
    // Slopes per grid step: one-sided at the ends, central next to them, 5-point inside.
    s(1, 5) = s(2, 6) - s(1, 6);
    s(2, 5) = 0.5 * (s(3, 6) - s(1, 6));
    s(n - 1, 5) = 0.5 * (s(n, 6) - s(n - 2, 6));
    s(n, 5) = s(n, 6) - s(n - 1, 6);
    for (int m = 3; m <= n - 2; ++m)
      s(m, 5) = ((s(m - 2, 6) - s(m + 2, 6)) + 8.0 * (s(m + 1, 6) - s(m - 1, 6))) / 12.0;
    for (int m = 1; m <= n - 1; ++m) {
      s(m, 4) = 3.0 * (s(m + 1, 6) - s(m, 6)) - 2.0 * s(m, 5) - s(m + 1, 5);
      s(m, 3) = s(m, 5) + s(m + 1, 5) - 2.0 * (s(m + 1, 6) - s(m, 6));
    }
    s(n, 4) = 0.0;
    s(n, 3) = 0.0;
    for (int m = 1; m <= n; ++m) {
      s(m, 2) = s(m, 5) / delta;
      s(m, 1) = 2.0 * s(m, 4) / delta;
      s(m, 0) = 3.0 * s(m, 3) / delta;
    }
  }
  Kokkos::deep_copy(splines, host);
  return splines;
}

// What the kernels need; copied by value into them.
struct EamKernelData {
  SplineView frho, rhor, z2r;
  Kokkos::View<int*, MemSpace> type2frho;
  Kokkos::View<int**, MemSpace> type2rhor, type2z2r;
  int nr = 0, nrho = 0;
  double rdr = 0, rdrho = 0, rhomax = 0, cutoff_squared = 0;

  // Position in a radial table: interval m and fraction p, clamped to the last interval.
  KOKKOS_INLINE_FUNCTION void radial_index(double r, int& m, double& p) const {
    p = r * rdr + 1.0;
    m = static_cast<int>(p);
    m = m < nr - 1 ? m : nr - 1;
    p -= m;
    p = p < 1.0 ? p : 1.0;
  }
  // The same for F(ρ), also clamped to the first interval.
  KOKKOS_INLINE_FUNCTION void density_index(double rho, int& m, double& p) const {
    p = rho * rdrho + 1.0;
    m = static_cast<int>(p);
    m = m < nrho - 1 ? m : nrho - 1;
    m = m > 1 ? m : 1;
    p -= m;
    p = p < 1.0 ? p : 1.0;
  }
  KOKKOS_INLINE_FUNCTION static double value(const SplineView& s, int t, int m, double p) {
    return ((s(t, m, 3) * p + s(t, m, 4)) * p + s(t, m, 5)) * p + s(t, m, 6);
  }
  KOKKOS_INLINE_FUNCTION static double slope(const SplineView& s, int t, int m, double p) {
    return (s(t, m, 0) * p + s(t, m, 1)) * p + s(t, m, 2);
  }
};

// Pair term of pass 2: φ_ij from r·φ, plus the embedding forces through F'(ρ)
// at both ends; the site energy is F(ρ_i) from pass 1.
struct EamPair {
  EamKernelData d;
  ScalarView embedding_energy;  // F(ρ_i), eV
  ScalarView embedding_slope;   // F'(ρ_i)

  KOKKOS_INLINE_FUNCTION double site_energy(int i, int) const { return embedding_energy(i); }

  KOKKOS_INLINE_FUNCTION PairTerm operator()(int i, int j, int ti, int tj, double r2) const {
    const double distance = kmath::sqrt(r2);
    int m;
    double p;
    d.radial_index(distance, m, p);
    const double drho_i_to_j = EamKernelData::slope(d.rhor, d.type2rhor(ti, tj), m, p);
    const double drho_j_to_i = EamKernelData::slope(d.rhor, d.type2rhor(tj, ti), m, p);
    const int t = d.type2z2r(ti, tj);
    const double z2 = EamKernelData::value(d.z2r, t, m, p);
    const double dz2 = EamKernelData::slope(d.z2r, t, m, p);
    const double inverse = 1.0 / distance;
    PairTerm term;
    term.energy = z2 * inverse;
    const double dphi = dz2 * inverse - term.energy * inverse;
    const double dE_dr = embedding_slope(i) * drho_j_to_i + embedding_slope(j) * drho_i_to_j + dphi;
    term.force_over_r = -dE_dr * inverse;
    return term;
  }
};

enum class EamFormat { funcfl, setfl, finnis_sinclair };

class Eam final : public Potential {
 public:
  Eam(EamFormat format, const std::string& arguments, const std::filesystem::path& config_dir)
      : format_(format) {
    if (format == EamFormat::funcfl) {
      std::stringstream stream(arguments);
      for (std::string item; std::getline(stream, item, ',');) {
        if (item.empty()) continue;
        int forced = 0;
        std::string name = item;
        if (const auto equals = item.find('='); equals != std::string::npos) {
          forced = find_atomic_number(item.substr(0, equals));
          if (forced == 0)
            throw Error("eam: '" + item.substr(0, equals) + "' in '" + item +
                        "' is not an element symbol");
          name = item.substr(equals + 1);
        }
        FuncflFile file = read_funcfl(name, forced, config_dir);
        spec_argument_ += (spec_argument_.empty() ? "" : ",") +
                          (forced ? item.substr(0, item.find('=') + 1) : std::string()) +
                          file.spec_argument;
        for (const auto& other : funcfl_)
          if (other.number == file.number)
            throw Error("eam: two files for " + std::string(element(file.number).symbol) + ": " +
                        other.path + " and " + file.path);
        funcfl_.push_back(std::move(file));
      }
      if (funcfl_.empty()) throw Error("eam: expected eam:FILE[,FILE…], e.g. eam:Cu_u3.eam");
    } else {
      if (arguments.empty() || arguments.find(',') != std::string::npos)
        throw Error(name() + ": expected exactly one file, e.g. " + name() + ":" +
                    (format == EamFormat::setfl ? "CuNi.eam.alloy" : "Fe_mm.eam.fs"));
      setfl_ = read_setfl(arguments, format == EamFormat::finnis_sinclair, config_dir);
      spec_argument_ = setfl_.spec_argument;
    }
  }

  std::string spec() const override { return name() + ":" + spec_argument_; }
  std::vector<std::filesystem::path> parameter_files() const override {
    if (format_ != EamFormat::funcfl) return {setfl_.path};
    std::vector<std::filesystem::path> files;
    for (const auto& file : funcfl_) files.emplace_back(file.path);
    return files;
  }

  double cutoff() const override {
    if (format_ != EamFormat::funcfl) return setfl_.cut;
    double cut = 0;
    for (const auto& file : funcfl_) cut = std::max(cut, file.cut);
    return cut;
  }

  std::vector<int> elements() const override {
    if (format_ != EamFormat::funcfl) return setfl_.numbers;
    std::vector<int> numbers;
    for (const auto& file : funcfl_) numbers.push_back(file.number);
    return numbers;
  }

  void bind(const std::vector<int>& species) override {
    const std::vector<int> known = elements();
    std::vector<int> index;
    for (int z : species) {
      const auto found = std::find(known.begin(), known.end(), z);
      if (found == known.end())
        throw Error(name() + ": element " + std::string(element(z).symbol) +
                    " is not described by " + source_description() + " (it has " +
                    symbols_text(known, ", ") + ")");
      index.push_back(static_cast<int>(found - known.begin()));
    }
    EamArrays arrays;
    if (format_ == EamFormat::funcfl) {
      // As LAMMPS with one pair_coeff per present type: only these files set the grid and cutoff.
      std::vector<const FuncflFile*> files;
      for (int i : index) files.push_back(&funcfl_[i]);
      arrays = arrays_from_funcfl(files);
    } else {
      arrays = arrays_from_setfl(setfl_, index);
    }
    if (arrays.nr < 5 || arrays.nrho < 5)
      throw Error(name() + ": tables of " + source_description() + " are too short");

    EamKernelData data;
    data.frho = make_splines("Eam::frho", arrays.frho, arrays.nrho, arrays.drho);
    data.rhor = make_splines("Eam::rhor", arrays.rhor, arrays.nr, arrays.dr);
    data.z2r = make_splines("Eam::z2r", arrays.z2r, arrays.nr, arrays.dr);
    const int ntypes = static_cast<int>(species.size());
    data.type2frho = Kokkos::View<int*, MemSpace>("Eam::type2frho", ntypes);
    data.type2rhor = Kokkos::View<int**, MemSpace>("Eam::type2rhor", ntypes, ntypes);
    data.type2z2r = Kokkos::View<int**, MemSpace>("Eam::type2z2r", ntypes, ntypes);
    auto frho_index = Kokkos::create_mirror_view(data.type2frho);
    auto rhor_index = Kokkos::create_mirror_view(data.type2rhor);
    auto z2r_index = Kokkos::create_mirror_view(data.type2z2r);
    for (int a = 0; a < ntypes; ++a) {
      frho_index(a) = arrays.type2frho[a];
      for (int b = 0; b < ntypes; ++b) {
        rhor_index(a, b) = arrays.type2rhor[a][b];
        z2r_index(a, b) = arrays.type2z2r[a][b];
      }
    }
    Kokkos::deep_copy(data.type2frho, frho_index);
    Kokkos::deep_copy(data.type2rhor, rhor_index);
    Kokkos::deep_copy(data.type2z2r, z2r_index);
    data.nr = arrays.nr;
    data.nrho = arrays.nrho;
    data.rdr = 1.0 / arrays.dr;
    data.rdrho = 1.0 / arrays.drho;
    data.rhomax = arrays.rhomax;
    data.cutoff_squared = arrays.cutoff * arrays.cutoff;
    data_ = data;
    bound_cutoff_ = arrays.cutoff;
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    check_ready_to_compute(name(), data_.type2frho.extent(0) == state.species.size(), list,
                           bound_cutoff_);
    if (static_cast<int>(embedding_slope_.extent(0)) != state.natoms) {
      embedding_energy_ = ScalarView("Eam::embedding_energy", state.natoms);
      embedding_slope_ = ScalarView("Eam::embedding_slope", state.natoms);
    }
    const ScalarView embedding_energy = embedding_energy_, fp = embedding_slope_;
    const NeighborView neighbors = list.view();
    const VecView x = state.x;
    const IntView type = state.type;
    const EamKernelData d = data_;
    const auto centres = request.centres;
    const bool all_centres = centres.extent(0) == 0;

    // Pass 1: density at each atom, embedding energy F(ρ) and F'(ρ).
    int beyond_rhomax = 0;
    Kokkos::parallel_reduce(
        "Eam::embedding", RangePolicy(0, state.natoms),
        KOKKOS_LAMBDA(int i, int& beyond) {
          if (!all_centres && !centres(i)) {
            fp(i) = 0.0;
            embedding_energy(i) = 0.0;
            return;
          }
          const int ti = type(i);
          double rho = 0.0;
          for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1); ++k) {
            double r[3];
            neighbors.delta(x, i, k, r);
            const double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
            if (r2 >= d.cutoff_squared) continue;
            int m;
            double p;
            d.radial_index(kmath::sqrt(r2), m, p);
            rho += EamKernelData::value(d.rhor, d.type2rhor(type(neighbors.index(k)), ti), m, p);
          }
          int m;
          double p;
          d.density_index(rho, m, p);
          const int t = d.type2frho(ti);
          fp(i) = EamKernelData::slope(d.frho, t, m, p);
          double energy = EamKernelData::value(d.frho, t, m, p);
          if (rho > d.rhomax) {
            energy += fp(i) * (rho - d.rhomax);
            ++beyond;
          }
          embedding_energy(i) = energy;
        },
        Kokkos::Sum<int>(beyond_rhomax));
    if (beyond_rhomax > 0 && !warned_rhomax_) {
      warned_rhomax_ = true;
      logger().warn(
          "{}: {} atom(s) with a density beyond rho_max = {} of {}; F(rho) continued linearly "
          "(warned once)",
          name(), beyond_rhomax, data_.rhomax, source_description());
    }

    // Pass 2: forces and pair energies. The full list lets each atom collect its
    // own force from both F'(ρ_i)·ρ'_{j→i} and F'(ρ_j)·ρ'_{i→j}: no scatter.
    return compute_pair_potential("Eam", state, list, request, bound_cutoff_,
                                  EamPair{data_, embedding_energy_, embedding_slope_});
  }

 private:
  std::string name() const {
    switch (format_) {
      case EamFormat::funcfl:
        return "eam";
      case EamFormat::setfl:
        return "eam/alloy";
      case EamFormat::finnis_sinclair:
        return "eam/fs";
    }
    return "eam";
  }

  std::string source_description() const {
    if (format_ != EamFormat::funcfl) return setfl_.path;
    std::string text;
    for (const auto& file : funcfl_) text += (text.empty() ? "" : ", ") + file.path;
    return text;
  }

  EamFormat format_;
  std::string spec_argument_;  // the files as found: bare names stay bare, others absolute
  std::vector<FuncflFile> funcfl_;
  SetflFile setfl_;
  EamKernelData data_;
  double bound_cutoff_ = 0;  // Å, of the tables bound (funcfl: only the files in use)
  bool warned_rhomax_ = false;
  ScalarView embedding_energy_, embedding_slope_;  // F(ρ_i) and F'(ρ_i) from pass 1
};

}  // namespace

std::unique_ptr<Potential> make_eam(const std::string& arguments,
                                    const std::filesystem::path& config_dir) {
  return std::make_unique<Eam>(EamFormat::funcfl, arguments, config_dir);
}

std::unique_ptr<Potential> make_eam_alloy(const std::string& arguments,
                                          const std::filesystem::path& config_dir) {
  return std::make_unique<Eam>(EamFormat::setfl, arguments, config_dir);
}

std::unique_ptr<Potential> make_eam_fs(const std::string& arguments,
                                       const std::filesystem::path& config_dir) {
  return std::make_unique<Eam>(EamFormat::finnis_sinclair, arguments, config_dir);
}

}  // namespace otfgp
