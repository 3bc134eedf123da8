#pragma once
// The engine's error kinds. UnsupportedError: the model uses an operator, attribute value or data type the
// engine does not implement; it names the op, the node and the opset so the user knows what to change. It is
// never "approximately supported": anything not implemented exactly is this error, never a wrong answer.
#include "util/error.h"

namespace xfer::nn {

class UnsupportedError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void unsupported(fmt::format_string<Args...> format, Args&&... args) {
  throw UnsupportedError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace xfer::nn
