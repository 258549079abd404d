#include "support/oracle_setup.hpp"

#include <fstream>

namespace otfgp::testing {

std::unique_ptr<oracle::Oracle> oracle_from_yaml(const std::string& yaml,
                                                 const std::filesystem::path& base) {
  return oracle::make_oracle(ConfigSection::parse(yaml, "oracle.yaml"), base);
}

Structure silicon_pair() {
  Structure si;
  const double a = 5.30;
  si.cell << 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2 + 0.08, a / 2, 0.05;
  si.positions.resize(2, 3);
  si.positions << 0.03, -0.02, 0.01, a / 4 - 0.05, a / 4 + 0.04, a / 4 + 0.02;
  si.numbers = {14, 14};
  return si;
}

std::filesystem::path fake_program(const std::filesystem::path& directory, const std::string& name,
                                   const std::string& body) {
  const auto path = directory / name;
  std::ofstream(path) << "#!/bin/sh\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

}  // namespace otfgp::testing
