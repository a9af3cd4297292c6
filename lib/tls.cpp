#include "tls.hpp"

#include "openssl_loader.hpp"

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace wsgather {
namespace {

namespace ssl = boost::asio::ssl;

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

std::optional<ssl::context> make_tls_context(const TlsOptions& options, bool any_wss) {
    if (!any_wss && options.ca_file.empty() && options.cert_file.empty() && options.key_file.empty())
        return std::nullopt;
    if (std::string error = load_openssl(); !error.empty()) throw TlsUnavailable(error);
    ssl::context context(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (options.insecure) {
        context.set_verify_mode(ssl::verify_none);
    } else {
        context.set_verify_mode(ssl::verify_peer);
        if (!options.ca_file.empty()) {
            context.load_verify_file(options.ca_file, ec);
            if (ec) throw TlsSetupError(fmt::format("cannot use CA file '{}': {}", options.ca_file, ec.message()));
        } else if (any_wss) {
            context.set_default_verify_paths(ec);
            if (ec) throw TlsSetupError(fmt::format("cannot load the system CA store: {}", ec.message()));
        }
    }
    if (!options.cert_file.empty()) {
        context.use_certificate_chain_file(options.cert_file, ec);
        if (ec) throw TlsSetupError(fmt::format("cannot use certificate file '{}': {}", options.cert_file, ec.message()));
        const std::string& key = options.key_file.empty() ? options.cert_file : options.key_file;
        context.use_private_key_file(key, ssl::context::pem, ec);
        if (ec) throw TlsSetupError(fmt::format("cannot use key file '{}': {}", key, ec.message()));
        if (SSL_CTX_check_private_key(context.native_handle()) != 1)
            throw TlsSetupError(fmt::format("key file '{}' does not match certificate '{}'", key, options.cert_file));
    } else if (!options.key_file.empty()) {
        throw TlsSetupError(fmt::format("key file '{}' given without a certificate (--cert)", options.key_file));
    }
    return context;
}

void prepare_tls_stream(TlsStream& stream, const std::string& host, bool insecure) {
    SSL* ssl = stream.native_handle();
    bool ip = is_ip_literal(host);
    if (!ip) SSL_set_tlsext_host_name(ssl, host.c_str());
    if (insecure) return;
    // OpenSSL's own check reports a precise reason ("hostname mismatch")
    // where a verify callback would only say "certificate verify failed".
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
}

std::string certificate_problem(TlsStream& stream) {
    long result = SSL_get_verify_result(stream.native_handle());
    if (result == X509_V_OK) return {};
    return X509_verify_cert_error_string(result);
}

}  // namespace wsgather
