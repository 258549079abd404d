// oracle::label_settings: the oracle: keys a resumed run must keep (they decide
// the labels) and those it may change (they only run the program or steer its
// SCF to the same answer).
#include <catch2/catch.hpp>

#include "otfgp/oracle/oracle_settings.hpp"

using namespace otfgp;
using Catch::Contains;

namespace {

std::string settings(const std::string& yaml) {
  return oracle::label_settings(ConfigSection::parse(yaml, "otf.yaml").section("oracle"));
}

std::string fingerprint(const std::string& yaml) {
  return oracle::label_fingerprint(ConfigSection::parse(yaml, "otf.yaml").section("oracle"));
}

const std::string qe =
    "oracle:\n  kind: qe\n  command: pw.x\n  pseudopotentials: {Si: Si.pbe-rrkj.UPF}\n"
    "  ecutwfc: 30\n  kpoints: [2, 2, 2]\n"
    "  input: {system: {nspin: 2, 'starting_magnetization(1)': 0.5}}\n";

}  // namespace

TEST_CASE("oracle label settings: what decides the labels, sorted and normalised", "[oracle]") {
  CHECK(settings(qe) ==
        "oracle.ecutwfc: 30\n"
        "oracle.input.system.nspin: 2\n"
        "oracle.input.system.starting_magnetization(1): 0.5\n"
        "oracle.kind: qe\n"
        "oracle.kpoints: [2, 2, 2]\n"
        "oracle.pseudopotentials.Si: Si.pbe-rrkj.UPF\n");
  // The program, its environment, time limit, folders and SCF steering may change.
  const std::string steered =
      "oracle:\n  kind: qe\n  command: mpirun -np 4 pw.x\n  timeout: 600\n"
      "  environment: {OMP_NUM_THREADS: '1'}\n  pseudo_dir: /elsewhere\n"
      "  mixing_beta: 0.3\n  electron_maxstep: 300\n  conv_thr: 1e-9\n"
      "  pseudopotentials: {Si: Si.pbe-rrkj.UPF}\n  ecutwfc: 30.0\n  kpoints: [2, 2, 2.0]\n"
      "  input: {electrons: {diagonalization: cg}, system: {'starting_magnetization(1)': 0.50, "
      "nspin: 2}}\n";
  CHECK(settings(steered) == settings(qe));
  CHECK(fingerprint(steered) == fingerprint(qe));
  CHECK_THAT(fingerprint(qe), Contains("qe-fnv1a64-"));
  // Anything that changes the calculation changes the settings.
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"ecutwfc: 30", "ecutwfc: 40"},
                                                        {"[2, 2, 2]", "[3, 3, 3]"},
                                                        {"Si.pbe-rrkj", "Si.pz-vbc"},
                                                        {"0.5}", "0.4}"}}) {
    std::string changed = qe;
    changed.replace(changed.find(from), from.size(), to);
    INFO(from << " -> " << to);
    CHECK(settings(changed) != settings(qe));
    CHECK(fingerprint(changed) != fingerprint(qe));
  }
  // For the command kind the command is the calculation; CP2K's SCF keys steer.
  CHECK(settings("oracle: {kind: command, command: ./vasp.sh, timeout: 5}\n") ==
        "oracle.command: ./vasp.sh\noracle.kind: command\n");
  CHECK(settings("oracle: {kind: cp2k, cutoff: 400, max_scf: 50, eps_scf: 1e-7, "
                 "mixing_alpha: 0.2, data_dir: /x}\n") ==
        "oracle.cutoff: 400\noracle.kind: cp2k\n");
}
