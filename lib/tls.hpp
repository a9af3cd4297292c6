// TLS for wss:// feeds: one client context for the whole run, and the
// per-connection settings that depend on the host (SNI, host-name check).
#pragma once

#include "feed_io.hpp"
#include "options.hpp"
#include "read_ahead.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace wsgather {

using TlsStream = boost::beast::ssl_stream<ReadAheadSocket>;

// The message names the file that could not be used.
struct TlsSetupError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// OpenSSL itself could not be loaded (lib/openssl_loader.hpp).
struct TlsUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Verification is on unless `insecure`; --ca-file replaces the system store,
// as curl's --cacert does. Making a context costs milliseconds and reading
// the system store tens more, so with no wss:// feed (`any_wss` false) there
// is none, unless TLS files were named: those are always checked. Only
// then is OpenSSL loaded.
std::optional<boost::asio::ssl::context> make_tls_context(const TlsOptions& options, bool any_wss);

// Sends SNI for host names (never for IP literals, RFC 6066) and makes
// OpenSSL check that the certificate is for `host`.
void prepare_tls_stream(TlsStream& stream, const std::string& host, bool insecure);

// OpenSSL's reason when certificate verification failed, such as
// "unable to get local issuer certificate" or "hostname mismatch"; empty
// when the handshake failed for another reason.
std::string certificate_problem(TlsStream& stream);

}  // namespace wsgather
