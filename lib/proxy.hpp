// Which HTTP proxy a feed goes through, and what a proxy URL says. Pure
// functions: the tunnel itself (HTTP CONNECT) is opened elsewhere.
#pragma once

#include "environment.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wsgather {

// The message names the bad URL, its password shown as "***".
struct ProxyUrlError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ProxyUrl {
    std::string url;       // exactly as given, password included
    std::string host;      // for DNS; IPv6 without brackets
    std::string port;      // always set: the one written (without leading zeros), or 80
    std::string userinfo;  // "user:password", percent-decoded, for Basic auth; empty if none
};

// "http://[user[:password]@]host[:port][/]", or a bare "host:port", which
// curl reads as http://. Only plain http:// proxies: the tunnel is opened
// with CONNECT over an unencrypted connection to the proxy.
ProxyUrl parse_proxy_url(std::string_view text);

// The proxy URL, as written in the environment, that a connection to
// host:port goes through, or nothing for a direct connection. `host` is an
// IPv6 literal without brackets, `port` always set. See proxy.cpp for the
// variables read and the no_proxy rules.
std::optional<std::string> proxy_for(bool tls, std::string_view host, std::string_view port,
                                     const Getenv& getenv);

// Whether `no_proxy`, a no_proxy value, exempts host:port from the proxy.
bool bypasses_proxy(std::string_view no_proxy, std::string_view host, std::string_view port);

}  // namespace wsgather
