// oracle::label_settings: the oracle: keys a resumed run must keep (they decide
// the labels) and those it may change (they only run the program or steer its
// SCF to the same answer).
#include <catch2/catch.hpp>

#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Contains;

namespace {

// An oracle that reads no files: the settings are the config's text.
class TextOnly final : public oracle::Oracle {
 public:
  std::string kind() const override { return "test"; }
  void check(const std::vector<int>&) const override {}
  Structure label(const Structure& s, const std::filesystem::path&, int) override { return s; }
};

std::string settings(const std::string& yaml) {
  return oracle::label_settings(ConfigSection::parse(yaml, "otf.yaml").section("oracle"),
                                TextOnly());
}

std::string fingerprint(const std::string& yaml) {
  return oracle::label_fingerprint(ConfigSection::parse(yaml, "otf.yaml").section("oracle"),
                                   TextOnly());
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
        "oracle.pseudopotentials.Si: Si.pbe-rrkj.UPF\n"
        "oracle.pseudopotentials_order: Si\n");
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
  // QE's namelists are case-insensitive: ELECTRONS steers as electrons does.
  std::string upper = steered;
  upper.replace(upper.find("{electrons:"), 11, "{ELECTRONS:");
  CHECK(settings(upper) == settings(qe));
  // With species-indexed keys the order of pseudopotentials is species 1, 2, …
  const std::string two =
      "oracle:\n  kind: qe\n  pseudopotentials: {Mg: a.UPF, O: b.UPF}\n"
      "  ecutwfc: 30\n  input: {system: {'starting_magnetization(1)': 0.5}}\n";
  std::string swapped = two;
  swapped.replace(swapped.find("{Mg: a.UPF, O: b.UPF}"), 21, "{O: b.UPF, Mg: a.UPF}");
  CHECK_THAT(settings(two), Contains("oracle.pseudopotentials_order: Mg O\n"));
  CHECK(settings(swapped) != settings(two));
  // … without them the order does not matter.
  std::string plain = two, plain_swapped = swapped;
  for (std::string* text : {&plain, &plain_swapped}) text->erase(text->find("  input:"));
  CHECK(settings(plain) == settings(plain_swapped));
  // Every line of a block scalar counts (a lammps oracle's commands).
  const std::string lammps =
      "oracle:\n  kind: lammps\n  pair_style: sw\n  pair_coeff: '* * Si.sw Si'\n"
      "  commands: |\n    pair_modify shift no\n    neighbor 2.0 bin\n";
  std::string changed_line = lammps;
  changed_line.replace(changed_line.find("2.0"), 3, "3.0");
  CHECK_THAT(settings(lammps), Contains("oracle.commands: pair_modify shift no\\nneighbor 2.0"));
  CHECK(settings(changed_line) != settings(lammps));
  // For the command kind the command is the calculation; CP2K's SCF keys steer.
  CHECK(settings("oracle: {kind: command, command: ./vasp.sh, timeout: 5}\n") ==
        "oracle.command: ./vasp.sh\noracle.kind: command\n");
  // … as the words it runs: spacing and quotes that split no word otherwise
  // are the same command; another word is not.
  const std::string command = settings("oracle: {kind: command, command: 'python3 label.py -x'}\n");
  CHECK(settings("oracle: {kind: command, command: '  python3   \"label.py\"  -x '}\n") == command);
  CHECK(settings("oracle: {kind: command, command: 'python3 label.py -y'}\n") != command);
  CHECK(settings("oracle: {kind: command, command: \"python3 'label.py -x'\"}\n") != command);
  // A word with a newline (sh -c "…" over lines) stays on one line, every
  // line of it compared.
  const std::string script =
      "oracle:\n  kind: command\n  command: |\n    sh -c \"\n    eval a\n    \" {input}\n";
  std::string other_script = script;
  other_script.replace(other_script.find("eval a"), 6, "eval b");
  CHECK(settings(script) == "oracle.command: sh -c '\\neval a\\n' {input}\noracle.kind: command\n");
  CHECK(settings(other_script) != settings(script));
  CHECK(settings("oracle: {kind: cp2k, cutoff: 400, max_scf: 50, eps_scf: 1e-7, "
                 "mixing_alpha: 0.2, data_dir: /x}\n") ==
        "oracle.cutoff: 400\noracle.kind: cp2k\n");
}

TEST_CASE("oracle label settings: a qe pseudopotential counts by its content, not its path",
          "[oracle]") {
  testing::TemporaryDirectory directory("otfgp-oracle-settings");
  const std::filesystem::path debian = "/usr/share/espresso/pseudo";
  std::filesystem::create_directories(directory / "a");
  std::filesystem::create_directories(directory / "b");
  std::filesystem::copy_file(debian / "Si.pbe-rrkj.UPF", directory / "a" / "Si.UPF");
  // Another Si file under the same name in another folder.
  std::filesystem::copy_file(debian / "Si.pz-vbc.UPF", directory / "b" / "Si.UPF");
  const auto made = [&](const std::string& oracle) {
    const ConfigSection section =
        ConfigSection::parse("oracle: " + oracle + "\n", "otf.yaml").section("oracle");
    const auto qe = oracle::make_oracle(section, directory.path());
    return oracle::label_settings(section, *qe);
  };
  const std::string debian_file =
      made("{kind: qe, ecutwfc: 20, pseudopotentials: {Si: Si.pbe-rrkj.UPF}}");
  CHECK_THAT(debian_file, Contains("oracle.pseudopotentials.Si: content fnv1a64 "));
  // The same content from another place (a moved run, a cluster's copy): equal.
  CHECK(made("{kind: qe, ecutwfc: 20, pseudopotentials: {Si: " +
             (directory / "a" / "Si.UPF").string() + "}}") == debian_file);
  CHECK(made("{kind: qe, ecutwfc: 20, pseudo_dir: a, pseudopotentials: {Si: Si.UPF}}") ==
        debian_file);
  // The same name in another pseudo_dir, another file: not equal.
  CHECK(made("{kind: qe, ecutwfc: 20, pseudo_dir: b, pseudopotentials: {Si: Si.UPF}}") !=
        debian_file);
}

TEST_CASE("oracle label settings: parameter files count by their content, for every kind",
          "[oracle]") {
  testing::TemporaryDirectory directory("otfgp-oracle-files");
  const auto files = [&](const std::string& oracle) {
    const ConfigSection section =
        ConfigSection::parse("oracle: " + oracle + "\n", "otf.yaml").section("oracle");
    const auto made = oracle::make_oracle(section, directory.path());
    return std::make_pair(made->label_files(), oracle::label_settings(section, *made));
  };
  const auto [potential, potential_settings] = files("{kind: potential, potential: sw:Si.sw}");
  REQUIRE(potential.size() == 1);
  CHECK(potential[0].first == "files.Si.sw");
  CHECK_THAT(potential_settings, Contains("oracle.files.Si.sw: content fnv1a64 ") &&
                                     Contains("oracle.potential: sw:Si.sw"));
  const auto lammps =
      files("{kind: lammps, pair_style: sw, pair_coeff: '* * Si.sw {elements}'}").first;
  REQUIRE(lammps.size() == 1);
  CHECK(lammps[0].first == "files.Si.sw");
  CHECK(lammps[0].second.is_absolute());
  const auto cp2k = files("{kind: cp2k, cutoff: 400}").first;
  REQUIRE(cp2k.size() == 2);
  CHECK(cp2k[0].first == "files.BASIS_MOLOPT");
  CHECK(cp2k[1].first == "files.GTH_POTENTIALS");
  // Two files of one name stay apart.
  const auto named = named_files({"/a/Cu.eam", "/b/Cu.eam", "/a/Ni.eam"});
  CHECK(named[0].first == "files.Cu.eam");
  CHECK(named[1].first == "files.Cu.eam#2");
  CHECK(named[2].first == "files.Ni.eam");
  // A record without file lines (a build before 2026-12-02) is compared
  // without them; one with them in full.
  const std::string now = "oracle.files.Si.sw: content fnv1a64 1\noracle.kind: potential\n";
  CHECK(oracle::settings_as_recorded("oracle.kind: potential\n", now) ==
        "oracle.kind: potential\n");
  CHECK(oracle::settings_as_recorded("oracle.files.Si.sw: content fnv1a64 2\n", now) == now);
  // A command line recorded as written (before 2026-12-03) is compared by its
  // words: `now` takes the record's text where they are the same words.
  const std::string command_now = "oracle.command: python3 label.py\noracle.kind: command\n";
  const std::string spaced = "oracle.command: python3  'label.py'\noracle.kind: command\n";
  CHECK(oracle::settings_as_recorded(spaced, command_now) == spaced);
  CHECK(oracle::settings_as_recorded("oracle.command: python3 other.py\noracle.kind: command\n",
                                     command_now) == command_now);
  CHECK(oracle::settings_as_recorded("oracle.command: python3 'open\noracle.kind: command\n",
                                     command_now) == command_now);
  // … a folded scalar's last newline, recorded as \n, included.
  const std::string folded = "oracle.command: python3  label.py\\n\noracle.kind: command\n";
  CHECK(oracle::settings_as_recorded(folded, command_now) == folded);
  // A changed key is named before the files it brings along; a file alone is named.
  const auto changed = oracle::first_label_change(
      "oracle.files.Si.sw: content fnv1a64 1\noracle.potential: sw:Si.sw\n",
      "oracle.files.Si.tersoff: content fnv1a64 3\noracle.potential: tersoff:Si.tersoff\n");
  REQUIRE(changed);
  CHECK(changed->key == "oracle.potential");
  const auto file = oracle::first_label_change(
      "oracle.files.Si.sw: content fnv1a64 1\noracle.potential: sw:Si.sw\n",
      "oracle.files.Si.sw: content fnv1a64 2\noracle.potential: sw:Si.sw\n");
  REQUIRE(file);
  CHECK(file->key == "oracle.files.Si.sw");
  CHECK(file->now == "content fnv1a64 2");
}

TEST_CASE("oracle settings compared with their defaults: a default written out is no change",
          "[oracle]") {
  // The QE and CP2K oracles themselves (their files are Debian's).
  const auto compared = [](const std::string& yaml) {
    const ConfigSection section = ConfigSection::parse(yaml, "otf.yaml").section("oracle");
    const auto made = oracle::make_oracle(section, ".");
    return oracle::with_label_defaults(oracle::label_settings(section, *made), *made);
  };
  const std::string bare =
      "oracle:\n  kind: qe\n  pseudopotentials: {Si: Si.pbe-rrkj.UPF}\n  ecutwfc: 15\n";
  for (const std::string& same :
       {std::string("  degauss: 0.01\n"), std::string("  smearing: marzari-vanderbilt\n"),
        std::string("  smearing: mv\n"), std::string("  smearing: cold\n  degauss: 0.010\n"),
        std::string("  ecutrho: 60\n"), std::string("  kspacing: 0.3\n")}) {
    INFO(same);
    CHECK(compared(bare + same) == compared(bare));
  }
  for (const std::string& other :
       {std::string("  degauss: 0.02\n"), std::string("  smearing: gaussian\n"),
        std::string("  smearing: none\n"), std::string("  ecutrho: 80\n"),
        std::string("  kpoints: [2, 2, 2]\n"), std::string("  kspacing: 0.25\n")}) {
    INFO(other);
    CHECK(compared(bare + other) != compared(bare));
    const auto change = oracle::first_label_change(compared(bare), compared(bare + other));
    REQUIRE(change);
    CHECK(change->before.has_value());  // the default it had, not "not set"
  }
  // ecutrho's default follows ecutwfc: 60 is 4 × 15, not 4 × 20.
  CHECK(compared(bare + "  ecutrho: 60\n") !=
        compared("oracle:\n  kind: qe\n  pseudopotentials: {Si: Si.pbe-rrkj.UPF}\n"
                 "  ecutwfc: 20\n"));
  // CP2K: the functional, cutoffs, smearing and charge it takes by default.
  const std::string cp2k = "oracle:\n  kind: cp2k\n";
  CHECK(compared(cp2k + "  functional: PBE\n  cutoff: 400\n  rel_cutoff: 50.0\n"
                        "  smearing: fermi_dirac\n  electronic_temperature: 300\n  charge: 0\n") ==
        compared(cp2k));
  CHECK(compared(cp2k + "  basis_set_file: /usr/share/cp2k/BASIS_MOLOPT\n") == compared(cp2k));
  CHECK(compared(cp2k + "  kpoints: [1, 1, 1]\n") == compared(cp2k));
  CHECK(compared(cp2k + "  kpoints: [2, 2, 2]\n") != compared(cp2k));
  CHECK(compared(cp2k + "  kspacing: 0.5\n") != compared(cp2k));
  CHECK(compared(cp2k + "  cutoff: 500\n") != compared(cp2k));
  CHECK(compared(cp2k + "  electronic_temperature: 1000\n") != compared(cp2k));
  // Lines other than the oracle's pass as they are.
  TextOnly text_only;
  CHECK(oracle::with_label_defaults("md.timestep: 1\noracle.kind: x\n", text_only) ==
        "md.timestep: 1\noracle.kind: x\n");
}
