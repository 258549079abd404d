#pragma once
// The LAMMPS class headers Debian's liblammps-dev installs (2022-01). They call
// fmt::make_args_checked, which {fmt} 9 (Debian's libfmt-dev) no longer has;
// this shim gives it back, in the meaning it had, before they are included.

#include <fmt/format.h>

#include <type_traits>

#if FMT_VERSION >= 90000
namespace fmt {
template <typename... Args, typename S>
inline auto make_args_checked(const S& /*format*/, const std::remove_reference_t<Args>&... args) {
  return fmt::make_format_args(args...);
}
}  // namespace fmt
#endif

#include "atom.h"
#include "comm.h"
#include "fix.h"
#include "group.h"
#include "input.h"
#include "lammps.h"
#include "modify.h"
#include "neighbor.h"
#include "timer.h"
#include "update.h"
