// Error checks at the Python boundary. Kernels never throw; bindings and plan
// compilation call these, and pybind11 maps the exception types:
//   std::invalid_argument -> ValueError, std::out_of_range -> IndexError,
//   std::domain_error -> TypeError (registered in bindings/module.cpp),
//   std::runtime_error -> RuntimeError.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace nextrl {

// Thrown for a wrong dtype or memory layout; bindings translate it to TypeError.
struct TypeMismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace nextrl

// NEXTRL_CHECK(cond, ExceptionType, message parts...): throws ExceptionType(StrCat(parts...)).
#define NEXTRL_CHECK(cond, Exc, ...)                       \
  do {                                                     \
    if (!(cond)) throw Exc(::nextrl::StrCat(__VA_ARGS__)); \
  } while (0)
