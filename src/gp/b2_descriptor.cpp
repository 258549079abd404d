#include "otfgp/gp/b2_descriptor.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/gp/b2_kernels.hpp"

namespace otfgp {

namespace {

std::string pair_name(int z_a, int z_b) {
  return std::string(element(z_a).symbol) + "-" + element(z_b).symbol;
}

}  // namespace

double B2Settings::pair_cutoff(int z_a, int z_b) const {
  const auto found = pair_cutoffs.find(std::minmax(z_a, z_b));
  return found != pair_cutoffs.end() ? found->second : cutoff;
}

double B2Settings::max_cutoff() const {
  double largest = 0.0;
  for (std::size_t a = 0; a < species.size(); ++a)
    for (std::size_t b = a; b < species.size(); ++b)
      largest = std::max(largest, pair_cutoff(species[a], species[b]));
  return largest;
}

int B2Settings::channels() const {
  return embedded() ? static_cast<int>(embedding.rows()) : static_cast<int>(species.size());
}

int B2Settings::power_spectrum_size() const {
  const int radial = channels() * n_max;
  return radial * (radial + 1) / 2 * (l_max + 1);
}

int B2Settings::two_body_size() const {
  return two_body ? channels() * n_max : 0;
}

int B2Settings::descriptor_size() const {
  return power_spectrum_size() + two_body_size();
}

void B2Settings::validate() const {
  validate([](const std::string& field, const std::string& message) {
    const std::string name = field == "pair_cutoffs" ? "pair cutoff"
                             : field == "embedding"  ? "the species embedding"
                                                     : field;
    throw Error("B2 descriptor: " + name + " " + message);
  });
}

void B2Settings::validate(
    const std::function<void(const std::string& field, const std::string& message)>& fail) const {
  if (species.empty()) fail("species", "must list at least one element");
  for (std::size_t a = 0; a < species.size(); ++a) {
    element(species[a]);  // throws for a Z that is no element
    if (a > 0 && species[a] <= species[a - 1])
      fail("species", "must be distinct atomic numbers in ascending order");
  }
  if (n_max < 1 || n_max > b2::max_radial)
    fail("n_max", "must be between 1 and " + std::to_string(b2::max_radial) + ", got " +
                      std::to_string(n_max));
  if (l_max < 0 || l_max > b2::max_l)
    fail("l_max",
         "must be between 0 and " + std::to_string(b2::max_l) + ", got " + std::to_string(l_max));
  if (!std::isfinite(r_min) || r_min < 0.0)
    fail("r_min", "must be a finite non-negative distance, got " + format_significant(r_min, 17));
  if (!std::isfinite(cutoff) || cutoff <= r_min)
    fail("cutoff", "must be finite and larger than r_min (" + format_significant(r_min, 17) +
                       " Å), got " + format_significant(cutoff, 17));
  for (const auto& [pair, value] : pair_cutoffs) {
    const auto [z_a, z_b] = pair;
    if (z_a > z_b)
      fail("pair_cutoffs", "keys must be ordered (Z_a ≤ Z_b), got (" + std::to_string(z_a) + ", " +
                               std::to_string(z_b) + ")");
    const bool known = std::binary_search(species.begin(), species.end(), z_a) &&
                       std::binary_search(species.begin(), species.end(), z_b);
    if (!known)
      fail("pair_cutoffs",
           "for " + pair_name(z_a, z_b) + " names an element that is not among the species");
    if (!std::isfinite(value) || value <= r_min)
      fail("pair_cutoffs", "for " + pair_name(z_a, z_b) +
                               " must be finite and larger than r_min, got " +
                               format_significant(value, 17));
  }
  if (embedded()) {
    if (embedding.cols() != static_cast<Eigen::Index>(species.size()))
      fail("embedding", "has " + std::to_string(embedding.cols()) +
                            " columns, expected one per species (" +
                            std::to_string(species.size()) + ")");
    if (!embedding.allFinite()) fail("embedding", "has non-finite weights");
    for (Eigen::Index s = 0; s < embedding.cols(); ++s)
      if (embedding.col(s).squaredNorm() == 0.0)
        fail("embedding", std::string("gives ") + element(species[s]).symbol +
                              " no weight in any channel (its neighbours would be invisible)");
  }
}

namespace {

// Period and group (lanthanides and actinides in group 3) of element Z ≤ 96.
std::pair<int, int> period_and_group(int z) {
  if (z <= 2) return {1, z == 1 ? 1 : 18};
  if (z <= 18) {
    const int k = (z - 3) % 8, period = z <= 10 ? 2 : 3;  // k = 0 … 7 across the row
    return {period, k < 2 ? k + 1 : k + 11};
  }
  if (z <= 54) return {z <= 36 ? 4 : 5, (z - 19) % 18 + 1};
  if (z <= 56) return {6, z - 54};
  if (z <= 71) return {6, 3};
  if (z <= 86) return {6, z - 68};
  if (z <= 88) return {7, z - 86};
  return {7, 3};
}

}  // namespace

Eigen::MatrixXd species_embedding(const std::string& kind, const std::vector<int>& species,
                                  int channels, double contrast) {
  const int n = static_cast<int>(species.size());
  const std::string where = "species embedding '" + kind + "': ";
  if (n == 0) throw Error(where + "no species");
  if (channels < 1) throw Error(where + "channels must be at least 1");
  if (kind == "resolved") {
    if (channels != n)
      throw Error(where + "needs one channel per species (" + std::to_string(n) + "), got " +
                  std::to_string(channels));
    return Eigen::MatrixXd::Identity(n, n);
  }
  if (kind != "elements") throw Error(where + "unknown kind (known: elements, resolved)");
  if (!(std::isfinite(contrast) && contrast > 0.0))
    throw Error(where + "contrast must be a positive number");
  if (channels > n)
    throw Error(where + std::to_string(channels) + " channels for " + std::to_string(n) +
                " species: at most one channel per species is independent");
  Eigen::MatrixXd properties(4, n);
  for (int s = 0; s < n; ++s) {
    const auto [period, group] = period_and_group(species[s]);
    properties.col(s) << pauling_electronegativity(species[s]), element(species[s]).covalent_radius,
        group, period;
  }
  Eigen::MatrixXd embedding(channels, n);
  embedding.row(0).setOnes();
  const double scale = std::sqrt(double(n)) * contrast;
  int row = 1;
  for (Eigen::Index k = 0; k < properties.rows() && row < channels; ++k) {
    Eigen::VectorXd v = properties.row(k).transpose();
    v.array() -= v.mean();
    // Orthogonal to the rows so far (row 0, all ones, is already taken out by the centring).
    for (int r = 1; r < row; ++r) {
      const Eigen::VectorXd u = embedding.row(r).transpose().normalized();
      v -= u.dot(v) * u;
    }
    // Skip a property that does not vary, or varies only along the rows so far.
    if (v.norm() < 1e-8 * properties.row(k).norm()) continue;
    embedding.row(row++) = scale * v.normalized().transpose();
  }
  if (row < channels)
    throw Error(where + "the element properties of these species give only " + std::to_string(row) +
                " independent channels, " + std::to_string(channels) + " asked");
  return embedding;
}

namespace b2 {

B2Basis B2Basis::create(const B2Settings& settings) {
  settings.validate();
  B2Basis basis;
  basis.n_species = static_cast<int>(settings.species.size());
  basis.n_max = settings.n_max;
  basis.l_max = settings.l_max;
  basis.n_channels = settings.channels();
  basis.n_radial = basis.n_channels * basis.n_max;
  basis.n_harmonics = (settings.l_max + 1) * (settings.l_max + 1);
  basis.density_size = basis.n_radial * basis.n_harmonics;
  basis.power_size = settings.power_spectrum_size();
  basis.size = settings.descriptor_size();
  basis.r_min = settings.r_min;
  basis.harmonics = SphericalHarmonics::create(settings.l_max);
  Kokkos::View<double**, MemSpace> cutoff("B2Basis::cutoff", basis.n_species, basis.n_species);
  auto host = Kokkos::create_mirror_view(cutoff);
  for (int a = 0; a < basis.n_species; ++a)
    for (int b = 0; b < basis.n_species; ++b)
      host(a, b) = settings.pair_cutoff(settings.species[a], settings.species[b]);
  Kokkos::deep_copy(cutoff, host);
  basis.cutoff = cutoff;
  if (settings.embedded()) {
    Kokkos::View<double**, MemSpace> weights("B2Basis::embedding", basis.n_species,
                                             basis.n_channels);
    auto weights_host = Kokkos::create_mirror_view(weights);
    for (int s = 0; s < basis.n_species; ++s)
      for (int c = 0; c < basis.n_channels; ++c) weights_host(s, c) = settings.embedding(c, s);
    Kokkos::deep_copy(weights, weights_host);
    basis.embedding = weights;
  }
  return basis;
}

void B2Basis::bind(const B2Settings& settings, const std::vector<int>& state_species) {
  Kokkos::View<int*, MemSpace> map("B2Basis::type_map", state_species.size());
  auto host = Kokkos::create_mirror_view(map);
  for (std::size_t t = 0; t < state_species.size(); ++t) {
    const auto found =
        std::lower_bound(settings.species.begin(), settings.species.end(), state_species[t]);
    if (found == settings.species.end() || *found != state_species[t]) {
      throw Error("B2 descriptor has no species " + std::string(element(state_species[t]).symbol) +
                  " (it describes: " + symbols_text(settings.species) + ")");
    }
    host(t) = static_cast<int>(found - settings.species.begin());
  }
  Kokkos::deep_copy(map, host);
  type_map = map;
}

}  // namespace b2

B2Descriptor::B2Descriptor(B2Settings settings) : settings_(std::move(settings)) {
  settings_.validate();
}

int B2Descriptor::size() const {
  return settings_.descriptor_size();
}

double B2Descriptor::cutoff() const {
  return settings_.max_cutoff();
}

double B2Descriptor::pair_cutoff(int a, int b) const {
  return settings_.pair_cutoff(settings_.species.at(a), settings_.species.at(b));
}

namespace {

using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
using Member = TeamPolicy::member_type;
using b2::ScratchView;

// The descriptor's entries: the list's pairs that lie within their pair
// cutoff, CSR per atom (`offsets`, natoms + 1) with the list pair of each.
struct B2Entries {
  Kokkos::View<int*, MemSpace> offsets;
  Kokkos::View<int*, MemSpace> entry_pair;
  int count = 0;
};

// Built count → scan → fill; the count marks each list pair it keeps, so
// that the fill does not decide again (a GPU compiler may round a distance
// differently in two kernels).
B2Entries b2_entries(const b2::B2Basis& basis, const NeighborView& neighbors, const VecView& x,
                     const IntView& type, int natoms) {
  Kokkos::View<int*, MemSpace> offsets("B2Descriptor::offsets", natoms + 1);
  Kokkos::View<char*, MemSpace> kept(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("B2Descriptor::kept")),
      neighbors.index.extent(0));
  Kokkos::parallel_for(
      "B2Descriptor::count_entries", RangePolicy(0, natoms), KOKKOS_LAMBDA(int i) {
        const int s_i = basis.type_map(type(i));
        int count = 0;
        for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1); ++k) {
          kept(k) = basis.within_cutoff(neighbors, x, type, i, s_i, k);
          count += kept(k);
        }
        offsets(i) = count;
      });
  int num_entries = 0;
  Kokkos::parallel_scan(
      "B2Descriptor::scan_entries", RangePolicy(0, natoms + 1),
      KOKKOS_LAMBDA(int i, int& partial, bool final) {
        const int count = i < natoms ? offsets(i) : 0;
        if (final) offsets(i) = partial;
        partial += count;
      },
      num_entries);
  Kokkos::View<int*, MemSpace> entry_pair("B2Descriptor::entry_pair", num_entries);
  Kokkos::parallel_for(
      "B2Descriptor::fill_entries", RangePolicy(0, natoms), KOKKOS_LAMBDA(int i) {
        int e = offsets(i);
        for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1); ++k)
          if (kept(k)) entry_pair(e++) = k;
      });
  return {offsets, entry_pair, num_entries};
}

// The gradient rows (3 per entry × D). In host memory they are column-major
// and the kernel writes them straight into the Eigen matrix DescriptorValues
// returns: copying tens of MB per training frame out of a row-major view cost
// as much as the kernel (the on-the-fly update recomputes every stored frame).
// On a device, row-major: each entry's rows contiguous for the team writing them.
using GradientView =
    Kokkos::View<double**, std::conditional_t<host_memory, Kokkos::LayoutLeft, Kokkos::LayoutRight>,
                 MemSpace>;

// What the descriptor kernel fills on the device.
struct B2DeviceValues {
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> values;  // natoms × D
  GradientView gradient;                                         // 3 per entry × D, or none
  Kokkos::View<double* [3], Kokkos::LayoutRight, MemSpace> pair_vector;  // per entry
  Kokkos::View<int*, MemSpace> neighbor;                                 // per entry
};

// One team per atom: its density, power spectrum and (with `gradients`) the
// derivatives per entry, in host memory into `host_gradient` (see GradientView).
B2DeviceValues b2_descriptor_kernel(const b2::B2Basis& basis, const NeighborView& neighbors,
                                    const VecView& x, const IntView& type, int natoms,
                                    const B2Entries& entries, bool gradients,
                                    Eigen::MatrixXd& host_gradient) {
  const int size = basis.size, num_entries = entries.count;
  const Kokkos::View<int*, MemSpace> offsets = entries.offsets, entry_pair = entries.entry_pair;
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> values("B2Descriptor::values", natoms,
                                                               size);
  GradientView gradient;
  if (gradients && host_memory) {
    host_gradient.setZero(3 * num_entries, size);
    gradient = GradientView(host_gradient.data(), 3 * num_entries, size);
  } else {
    gradient = GradientView("B2Descriptor::gradient", gradients ? 3 * num_entries : 0, size);
  }
  Kokkos::View<double* [3], Kokkos::LayoutRight, MemSpace> pair_vector("B2Descriptor::pair_vector",
                                                                       num_entries);
  Kokkos::View<int*, MemSpace> neighbor("B2Descriptor::neighbor", num_entries);
  const int density_size = basis.density_size;
  const std::size_t team_bytes = ScratchView::shmem_size(density_size);
  const b2::ScratchLevels levels =
      basis.terms_scratch_levels(team_bytes, 0, b2::Terms::gradients);  // AUTO teams
  // In blocks of atoms, so that a long training can stop between them
  // (core/interrupt.hpp); every atom is computed alone, so the values do not
  // depend on the blocking.
  constexpr int block = 512;
  for (int first = 0; first < natoms; first += block) {
    if (first > 0) {
      Kokkos::fence();
      stop_point("the descriptors of a " + std::to_string(natoms) + "-atom frame");
    }
    const int count = std::min(block, natoms - first);
    Kokkos::parallel_for(
        "B2Descriptor::compute",
        b2::TeamScratch()
            .per_team(levels.team, team_bytes)
            .per_thread(levels.thread, basis.terms_scratch_bytes(b2::Terms::gradients))
            .on(TeamPolicy(count, Kokkos::AUTO), 0, "B2Descriptor::compute"),
        KOKKOS_LAMBDA(const Member& team) {
          const int i = first + team.league_rank();
          const int s_i = basis.type_map(type(i));
          ScratchView A(team.team_scratch(levels.team), density_size);
          double* terms = basis.thread_terms(team, levels.thread, b2::Terms::gradients);
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, density_size),
                               [&](int a) { A(a) = 0.0; });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, offsets(i), offsets(i + 1)),
                               [&](int e) {
                                 const int k = entry_pair(e);
                                 // Entries lie within their cutoff by construction; the test is the
                                 // same one.
                                 if (!basis.neighbor_terms(neighbors, x, type, i, s_i, k,
                                                           b2::Terms::harmonics, terms))
                                   return;
                                 basis.add_density(team, terms, A.data());
                                 for (int c = 0; c < 3; ++c) pair_vector(e, c) = terms[c];
                                 neighbor(e) = neighbors.index(k);
                               });
          team.team_barrier();
          basis.power_spectrum(team, A.data(), &values(i, 0));
          if (basis.size > basis.power_size)
            Kokkos::parallel_for(Kokkos::TeamThreadRange(team, basis.n_radial), [&](int p) {
              values(i, basis.power_size + p) = A(p * basis.n_harmonics);
            });
          if (gradient.extent(0) == 0) return;
          Kokkos::parallel_for(
              Kokkos::TeamThreadRange(team, offsets(i), offsets(i + 1)), [&](int e) {
                if (!basis.neighbor_terms(neighbors, x, type, i, s_i, entry_pair(e),
                                          b2::Terms::gradients, terms))
                  return;
                basis.pair_gradient(terms, A.data(), [&](int c, int column) -> double& {
                  return gradient(3 * e + c, column);
                });
              });
        });
  }
  return {values, gradient, pair_vector, neighbor};
}

// The device values as DescriptorValues, species indices from `type` through the basis.
DescriptorValues to_host(const B2DeviceValues& device, const B2Entries& entries,
                         const b2::B2Basis& basis, const IntView& type, int natoms, bool gradients,
                         Eigen::MatrixXd&& host_gradient) {
  const int size = basis.size, num_entries = entries.count;
  DescriptorValues result;
  result.size = size;
  auto values_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device.values);
  result.values.resize(natoms, size);
  for (int i = 0; i < natoms; ++i)
    for (int e = 0; e < size; ++e) result.values(i, e) = values_host(i, e);
  auto type_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), type);
  auto map_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), basis.type_map);
  result.species.resize(natoms);
  for (int i = 0; i < natoms; ++i) result.species[i] = map_host(type_host(i));
  auto offsets_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), entries.offsets);
  result.offsets.assign(offsets_host.data(), offsets_host.data() + natoms + 1);
  auto neighbor_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device.neighbor);
  result.neighbor.assign(neighbor_host.data(), neighbor_host.data() + num_entries);
  auto pair_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device.pair_vector);
  result.pair_vector.resize(num_entries, 3);
  for (int e = 0; e < num_entries; ++e)
    for (int c = 0; c < 3; ++c) result.pair_vector(e, c) = pair_host(e, c);
  if (gradients && host_memory) {
    result.gradient = std::move(host_gradient);  // written there by the kernel
  } else if (gradients) {
    auto gradient_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device.gradient);
    // Row-major (device layout) to column-major (Eigen) in tiles that stay in
    // cache (row by row, every write of these tens of MB missed it).
    const int rows = 3 * num_entries;
    constexpr int tile = 32;
    result.gradient.resize(rows, size);
    for (int row0 = 0; row0 < rows; row0 += tile)
      for (int e0 = 0; e0 < size; e0 += tile)
        for (int e = e0; e < std::min(e0 + tile, size); ++e)
          for (int row = row0; row < std::min(row0 + tile, rows); ++row)
            result.gradient(row, e) = gradient_host(row, e);
  }
  return result;
}

// Covectors in the layout the kernel reads (each one contiguous), and the
// pull-back's R × 3E result column-major as Eigen keeps it: each team writes
// its own atom's columns, one contiguous block.
using AdjointView = Kokkos::View<const double**, Kokkos::LayoutRight, MemSpace>;
using PullBackView = Kokkos::View<double**, Kokkos::LayoutLeft, MemSpace>;

// Which atoms a pull-back contracts, and where each one's columns start.
struct PullBackAtoms {
  Kokkos::View<const int*, MemSpace> atom;          // central atom of listed atom a
  Kokkos::View<const int*, MemSpace> first_column;  // 3 × the entries of atoms before a
  int max_entries = 0;                              // most entries of one listed atom
  int columns = 0;                                  // 3 × the entries of all listed atoms
};

// One team per listed atom a (i = atoms.atom(a)): its density A and neighbour
// terms once, then per covector w (a row of `adjoints`) the chain rule of
// gp_energy_kernel's force pass: ∂/∂A through the power spectrum's adjoint (plus
// w's two-body part at A_{p,00}), contracted with each entry's ∂A/∂r_k.
void b2_pull_back_kernel(const b2::B2Basis& basis, const NeighborView& neighbors, const VecView& x,
                         const IntView& type, const B2Entries& entries, const PullBackAtoms& atoms,
                         const AdjointView& adjoints, int rows, const PullBackView& out) {
  const int listed = static_cast<int>(atoms.atom.extent(0));
  const Kokkos::View<int*, MemSpace> offsets = entries.offsets, entry_pair = entries.entry_pair;
  const Kokkos::View<const int*, MemSpace> atom = atoms.atom, first_column = atoms.first_column;
  const int density_size = basis.density_size;
  // Sized for a team of any size (the host's one thread caches the most).
  const int largest_stride = basis.terms_size(b2::B2Basis::cached_terms(false));
  const int harmonics = basis.n_harmonics, power_size = basis.power_size;
  const int max_entries = atoms.max_entries;
  const bool two_body = basis.size > basis.power_size;
  const std::size_t scratch_bytes =
      ScratchView::shmem_size(density_size) * 2 +
      ScratchView::shmem_size(std::size_t(max_entries) * largest_stride);
  const int level = b2::scratch_level(scratch_bytes);
  constexpr int block = 512;  // as in b2_descriptor_kernel: stop points between blocks
  for (int first = 0; first < listed; first += block) {
    if (first > 0) {
      Kokkos::fence();
      stop_point("the descriptor pull-back of " + std::to_string(listed) + " atoms");
    }
    const int count = std::min(block, listed - first);
    Kokkos::parallel_for(
        "B2Descriptor::pull_back",
        b2::TeamScratch()
            .per_team(level, scratch_bytes)
            .on(TeamPolicy(count, Kokkos::AUTO), 0, "B2Descriptor::pull_back"),
        KOKKOS_LAMBDA(const Member& team) {
          const int a = first + team.league_rank();
          const int i = atom(a), s_i = basis.type_map(type(i));
          const int begin = offsets(i), end = offsets(i + 1);
          ScratchView A(team.team_scratch(level), density_size);
          ScratchView dE_dA(team.team_scratch(level), density_size);
          const int stride = basis.cache_stride(team);
          ScratchView cache(team.team_scratch(level), std::size_t(max_entries) * stride);
          // Entries lie within their cutoff by construction; the test is the same one.
          basis.density_and_terms(
              team, neighbors, x, type, i, s_i, begin, end, [&](int e) { return entry_pair(e); },
              cache.data(), A.data());
          for (int r = 0; r < rows; ++r) {
            const double* w = &adjoints(std::size_t(a) * rows + r, 0);
            basis.power_spectrum_adjoint(team, A.data(), w, dE_dA.data());
            if (two_body) {
              Kokkos::parallel_for(Kokkos::TeamThreadRange(team, basis.n_radial),
                                   [&](int p) { dE_dA(p * harmonics) += w[power_size + p]; });
              team.team_barrier();
            }
            Kokkos::parallel_for(Kokkos::TeamThreadRange(team, begin, end), [&](int e) {
              const double* t = &cache(std::size_t(e - begin) * stride);
              double g[3] = {0.0, 0.0, 0.0};
              if (t[3] >= 0.0) basis.contract_gradient(t, dE_dA.data(), g, team.team_size() > 1);
              const int column = first_column(a) + 3 * (e - begin);
              for (int c = 0; c < 3; ++c) out(r, column + c) = g[c];
            });
            team.team_barrier();
          }
        });
  }
}

// `atoms` on the device with their first output columns, from the entries' offsets.
PullBackAtoms pull_back_atoms(const std::vector<int>& atoms, const B2Entries& entries) {
  auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), entries.offsets);
  const int listed = static_cast<int>(atoms.size());
  Kokkos::View<int*, MemSpace> atom("B2Descriptor::pull_back_atom", listed);
  Kokkos::View<int*, MemSpace> first_column("B2Descriptor::pull_back_first_column", listed + 1);
  auto atom_host = Kokkos::create_mirror_view(atom);
  auto first_host = Kokkos::create_mirror_view(first_column);
  PullBackAtoms result;
  first_host(0) = 0;
  for (int a = 0; a < listed; ++a) {
    const int count = offsets(atoms[a] + 1) - offsets(atoms[a]);
    atom_host(a) = atoms[a];
    first_host(a + 1) = first_host(a) + 3 * count;
    result.max_entries = std::max(result.max_entries, count);
  }
  result.columns = first_host(listed);
  Kokkos::deep_copy(atom, atom_host);
  Kokkos::deep_copy(first_column, first_host);
  result.atom = atom;
  result.first_column = first_column;
  return result;
}

// The basis bound to the state's species and the descriptor entries of `list`,
// which must reach the descriptor's cutoff.
std::pair<b2::B2Basis, B2Entries> bound_entries(const B2Settings& settings, const AtomState& state,
                                                const NeighborList& list) {
  if (list.cutoff() < settings.max_cutoff())
    throw Error("B2 descriptor needs a neighbour list of at least " +
                format_significant(settings.max_cutoff(), 17) + " Å, the list has " +
                format_significant(list.cutoff(), 17) + " Å");
  b2::B2Basis basis = b2::B2Basis::create(settings);
  basis.bind(settings, state.species);
  B2Entries entries = b2_entries(basis, list.view(), state.x, state.type, state.natoms);
  return {basis, entries};
}

}  // namespace

DescriptorValues B2Descriptor::compute(const AtomState& state, const NeighborList& list,
                                       bool gradients) const {
  const auto [basis, entries] = bound_entries(settings_, state, list);
  const NeighborView neighbors = list.view();
  Eigen::MatrixXd host_gradient;
  const B2DeviceValues device = b2_descriptor_kernel(
      basis, neighbors, state.x, state.type, state.natoms, entries, gradients, host_gradient);
  Kokkos::fence();
  return to_host(device, entries, basis, state.type, state.natoms, gradients,
                 std::move(host_gradient));
}

Eigen::MatrixXd B2Descriptor::pull_back(const AtomState& state, const NeighborList& list,
                                        const std::vector<int>& atoms,
                                        const Eigen::MatrixXd& adjoints) const {
  const int rows = pull_back_rows(atoms, adjoints, state.natoms, size());
  const auto [basis, entries] = bound_entries(settings_, state, list);
  const NeighborView neighbors = list.view();
  const PullBackAtoms listed = pull_back_atoms(atoms, entries);
  const int columns = listed.columns;

  // The covectors row-major, each one contiguous for the kernel.
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = adjoints;
  const Kokkos::View<const double**, Kokkos::LayoutRight, Kokkos::HostSpace,
                     Kokkos::MemoryTraits<Kokkos::Unmanaged>>
      adjoints_host(row_major.data(), row_major.rows(), row_major.cols());
  const auto adjoints_device = Kokkos::create_mirror_view_and_copy(MemSpace(), adjoints_host);

  Eigen::MatrixXd result(rows, columns);
  const Kokkos::View<double**, Kokkos::LayoutLeft, Kokkos::HostSpace,
                     Kokkos::MemoryTraits<Kokkos::Unmanaged>>
      result_host(result.data(), rows, columns);
  // In host memory the kernel writes straight into `result`.
  const auto out = Kokkos::create_mirror_view(MemSpace(), result_host);
  b2_pull_back_kernel(basis, neighbors, state.x, state.type, entries, listed, adjoints_device, rows,
                      out);
  Kokkos::fence();
  Kokkos::deep_copy(result_host, out);
  return result;
}

}  // namespace otfgp
