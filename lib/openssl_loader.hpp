// wsgather is not linked against OpenSSL: it loads libssl (and with it
// libcrypto) the first time a wss:// feed or a TLS option needs it. Loading
// them at start-up cost every run about 150 page faults, a fifth of a
// ws:// run's start-up time (docs/performance.md, "Start-up").
#pragma once

#include <string>

namespace wsgather {

// Loads libssl and finds every OpenSSL function wsgather calls. Returns why
// that failed, or an empty string. Only the first call loads; later calls
// return the first call's answer. Call it before any OpenSSL function: the
// functions themselves can only abort when OpenSSL cannot be loaded.
std::string load_openssl();

}  // namespace wsgather
