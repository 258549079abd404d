#pragma once
// Starting a program from a test without a shell (no quoting, no PATH lookup).

#include <sys/types.h>

#include <string>
#include <vector>

namespace otfgp::testing {

// Starts words[0] with the arguments words[1…], stdin from /dev/null, stdout
// and stderr to the files `output` and `error` (created or truncated;
// "/dev/null" discards). Returns its process id; throws std::runtime_error
// naming the program when it cannot start.
pid_t spawn_program(std::vector<std::string> words, const std::string& output,
                    const std::string& error);

}  // namespace otfgp::testing
