// The many-body loop's form from the environment (many_body_loop.hpp).

#include "many_body_loop.hpp"

#include <cstdlib>
#include <string>

#include "otfgp/core/environment_error.hpp"

namespace otfgp {

ManyBodyForm many_body_form_from_environment() {
  const char* value = std::getenv("OTFGP_MANYBODY_FORM");
  const std::string text = value != nullptr ? value : "";
  if (text.empty() || text == "rows") return ManyBodyForm::rows;
  if (text == "short") return ManyBodyForm::short_list;
  throw EnvironmentError("OTFGP_MANYBODY_FORM", "rows or short", text);
}

}  // namespace otfgp
