// Reading environment variables through a function, so that tests can give
// their own: the config file's ${VAR} (app/config.cpp) and the proxy
// variables (lib/proxy.cpp).
#pragma once

#include <cstdlib>
#include <functional>

namespace wsgather {

// The value of an environment variable, or null when it is not set.
using Getenv = std::function<const char*(const char*)>;

// std::getenv, for the real environment.
inline const char* process_environment(const char* name) { return std::getenv(name); }

}  // namespace wsgather
