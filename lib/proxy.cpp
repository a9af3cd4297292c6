#include "proxy.hpp"

#include "feed_url.hpp"
#include "units.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <span>

namespace wsgather {
namespace {

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

[[noreturn]] void refuse(std::string_view shown, std::string_view problem) {
    throw ProxyUrlError(fmt::format("invalid proxy URL '{}': {}", shown, problem));
}

std::string_view trim(std::string_view text) {
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && blank(text.back())) text.remove_suffix(1);
    return text;
}

std::string_view without_brackets(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
    return host;
}

// An IPv4 or IPv6 address as its bits; the two families never match each
// other (curl does not map ::ffff:10.0.0.1 to 10.0.0.1 either).
struct Address {
    std::array<unsigned char, 16> bytes{};
    unsigned bits = 0;  // 32 or 128
};

std::optional<Address> parse_address(std::string_view text) {
    Address address;
    if (auto v4 = boost::urls::parse_ipv4_address(text)) {
        auto bytes = v4->to_bytes();
        std::copy(bytes.begin(), bytes.end(), address.bytes.begin());
        address.bits = 32;
        return address;
    }
    if (auto v6 = boost::urls::parse_ipv6_address(text)) {
        address.bytes = v6->to_bytes();
        address.bits = 128;
        return address;
    }
    return std::nullopt;
}

// `prefix`: the bits after '/' in a CIDR entry, or nothing for the whole
// address.
bool in_network(const Address& address, const Address& network, std::optional<std::string_view> prefix) {
    if (address.bits != network.bits) return false;
    unsigned bits = network.bits;
    if (prefix) {
        auto count = parse_count(*prefix);
        if (!count || *count > network.bits) return false;
        bits = static_cast<unsigned>(*count);
    }
    unsigned whole_bytes = bits / 8;
    if (!std::equal(address.bytes.begin(), address.bytes.begin() + whole_bytes, network.bytes.begin()))
        return false;
    if (bits % 8 == 0) return true;
    auto mask = static_cast<unsigned char>(0xff00u >> (bits % 8));
    return (address.bytes[whole_bytes] & mask) == (network.bytes[whole_bytes] & mask);
}

// Trailing dots are dropped from both sides first: "example.com." is the same
// name as "example.com".
bool domain_matches(std::string_view host, std::string_view domain) {
    if (host.ends_with('.')) host.remove_suffix(1);
    if (domain.ends_with('.')) domain.remove_suffix(1);
    if (domain.empty()) return false;
    if (boost::beast::iequals(host, domain)) return true;
    return host.size() > domain.size() && host[host.size() - domain.size() - 1] == '.' &&
           boost::beast::iequals(host.substr(host.size() - domain.size()), domain);
}

// One no_proxy entry taken apart: "host", "host:port", "10.0.0.0/8",
// "[::1]:8080", "::1/128" (an IPv6 literal takes a port only in brackets).
struct NoProxyEntry {
    std::string_view host;
    std::optional<std::string_view> prefix;
    std::optional<std::string_view> port;
};

std::optional<NoProxyEntry> split_entry(std::string_view text) {
    NoProxyEntry entry;
    std::string_view tail;
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        entry.host = text.substr(1, close - 1);
        tail = text.substr(close + 1);
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        entry.host = text.substr(0, colon);
        tail = text.substr(colon);
    } else {
        entry.host = text;
    }
    // The prefix may be written inside the brackets or after them.
    if (auto slash = entry.host.find('/'); slash != std::string_view::npos) {
        entry.prefix = entry.host.substr(slash + 1);
        entry.host = entry.host.substr(0, slash);
    }
    if (tail.starts_with('/')) {
        if (entry.prefix) return std::nullopt;
        auto colon = tail.find(':');
        entry.prefix = tail.substr(1, colon == std::string_view::npos ? colon : colon - 1);
        tail = colon == std::string_view::npos ? std::string_view{} : tail.substr(colon);
    }
    if (tail.starts_with(':')) entry.port = tail.substr(1);
    else if (!tail.empty()) return std::nullopt;
    return entry;
}

bool entry_matches(std::string_view text, std::string_view host, const std::optional<Address>& host_address,
                   std::optional<std::uint64_t> port) {
    auto entry = split_entry(text);
    if (!entry) return false;
    if (entry->port && (!port || parse_count(*entry->port) != port)) return false;
    // Nothing is resolved here: a name entry never matches an address, nor
    // an address entry a name.
    auto entry_address = parse_address(entry->host);
    if (host_address || entry_address) {
        if (!host_address || !entry_address) return false;
        return in_network(*host_address, *entry_address, entry->prefix);
    }
    if (entry->prefix) return false;
    std::string_view domain = entry->host;
    // ".example.com", and "*.example.com" as many lists write it, mean what
    // "example.com" means: the domain and everything under it.
    if (domain.starts_with("*.")) domain.remove_prefix(1);
    if (domain.starts_with('.')) domain.remove_prefix(1);
    return domain_matches(host, domain);
}

}  // namespace

ProxyUrl parse_proxy_url(std::string_view text) {
    // curl reads a proxy written without a scheme as an http:// one.
    bool has_scheme = text.find("://") != std::string_view::npos;
    std::string url = has_scheme ? std::string(text) : "http://" + std::string(text);
    std::string shown = has_scheme ? hide_password(text) : hide_password(url).substr(7);
    if (text.empty()) refuse(shown, "empty");

    auto parsed = boost::urls::parse_uri(std::string_view(url));
    if (!parsed) {
        // Boost.URL's own words ("mismatch", "leftover") tell a user nothing.
        std::string_view problem = "not a valid URL";
        if (has_control_character(text)) problem = "spaces and control characters must be percent-encoded (%20)";
        else if (text.find('[') != std::string_view::npos || text.find(']') != std::string_view::npos)
            problem = "an IPv6 address is written in brackets, like [::1]";
        else if (text.find('%') != std::string_view::npos)
            problem = "'%' must begin an escape of two hex digits, like %20";
        refuse(shown, problem);
    }
    const auto& u = *parsed;

    // Schemes are case-insensitive (RFC 3986, 3.1).
    std::string scheme(u.scheme());
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "http") refuse(shown, "only http:// proxies are supported (HTTP CONNECT)");

    if (!u.has_authority() || u.encoded_host().empty()) {
        // Boost.URL reads "http://::1:3128" as an empty host, an empty port
        // and the path ":1:3128".
        std::string_view host_and_port = std::string_view(url).substr(url.find("://") + 3);
        host_and_port = host_and_port.substr(0, host_and_port.find_first_of("/?#"));
        host_and_port = host_and_port.substr(host_and_port.rfind('@') + 1);
        if (std::count(host_and_port.begin(), host_and_port.end(), ':') > 1)
            refuse(shown, "an IPv6 address is written in brackets, like [::1]");
        refuse(shown, "no host");
    }
    if (u.host_type() == boost::urls::host_type::ipvfuture) refuse(shown, "unsupported host");
    // Boost.URL 1.81 takes the leading digits of "80:90" or "8a0" as the port
    // and leaves the rest at the start of the path; its port_number() wraps
    // past 65535. So the port is checked as text, with that rest.
    std::string_view encoded_path = u.encoded_path();
    std::string_view rest =
        encoded_path.starts_with('/') ? std::string_view{} : encoded_path.substr(0, encoded_path.find('/'));
    std::optional<std::uint64_t> port = 80;
    if (u.has_port() || !rest.empty()) {
        std::string port_text = std::string(u.port()) + std::string(rest);
        port = parse_count(port_text);
        if (!port || *port == 0 || *port > 65535)
            refuse(shown, fmt::format("bad port '{}': a port is a number from 1 to 65535", port_text));
    }
    if (!encoded_path.empty() && encoded_path != "/")
        refuse(shown, fmt::format("a proxy URL cannot have a path ('{}')", encoded_path));
    if (u.has_query()) refuse(shown, "a proxy URL cannot have a ?query");
    if (u.has_fragment()) refuse(shown, "a proxy URL cannot have a #fragment");

    ProxyUrl proxy;
    proxy.url = std::string(text);
    // host_address() drops the brackets of an IPv6 literal and decodes %XX.
    proxy.host = std::string(u.host_address());
    if (has_control_character(proxy.host))
        refuse(shown, "the host holds an encoded space or control character");
    proxy.port = std::to_string(*port);
    if (u.has_userinfo()) {
        std::string user = u.user();
        // Basic authentication splits at the first ':' (RFC 7617).
        if (user.find(':') != std::string::npos) refuse(shown, "a user name cannot contain ':'");
        proxy.userinfo = user;
        if (u.has_password()) proxy.userinfo += ":" + u.password();
    }
    return proxy;
}

// The variables are curl's, read the way curl reads them:
// - wss:// goes through wss_proxy, WSS_PROXY, https_proxy, HTTPS_PROXY,
//   all_proxy or ALL_PROXY, the first one set;
// - ws:// through ws_proxy, WS_PROXY, http_proxy, all_proxy or ALL_PROXY.
//   Never HTTP_PROXY: a CGI program finds a request's "Proxy:" header in it,
//   so a client could choose the proxy ("httpoxy", CVE-2016-5385).
// A variable set to "" counts as unset. no_proxy, or NO_PROXY when it is
// unset, then lists what is reached directly (bypasses_proxy).
std::optional<std::string> proxy_for(bool tls, std::string_view host, std::string_view port,
                                     const Getenv& getenv) {
    static constexpr std::array<const char*, 6> tls_variables{
        "wss_proxy", "WSS_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    static constexpr std::array<const char*, 5> plain_variables{
        "ws_proxy", "WS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY"};
    auto value = [&getenv](const char* name) {
        const char* text = getenv(name);
        return std::string_view(text ? text : "");
    };

    auto variables = tls ? std::span<const char* const>(tls_variables) : std::span<const char* const>(plain_variables);
    std::string_view proxy;
    for (const char* name : variables) {
        proxy = value(name);
        if (!proxy.empty()) break;
    }
    if (proxy.empty()) return std::nullopt;

    std::string_view no_proxy = value("no_proxy");
    if (no_proxy.empty()) no_proxy = value("NO_PROXY");
    if (bypasses_proxy(no_proxy, host, port)) return std::nullopt;
    return std::string(proxy);
}

// no_proxy is a comma-separated list; blanks around an entry do not count.
// - "*" as the whole value: every host (curl: not as one entry of several).
// - A name: that host and every host under it, in any case. "example.com",
//   ".example.com" and "*.example.com" all match "example.com" and
//   "a.example.com", never "badexample.com".
// - An IPv4 or IPv6 address: that address, compared as an address ("::1" is
//   "0::1"); with "/bits", every address in that network. IPv6 may be written
//   in brackets, and must be to take a port.
// - Any of these with ":port": only connections to that port.
// Names are not resolved, so "localhost" does not match 127.0.0.1. Entries
// that make no sense ("[::1", "h:x") match nothing.
bool bypasses_proxy(std::string_view no_proxy, std::string_view host, std::string_view port) {
    if (trim(no_proxy) == "*") return true;
    host = without_brackets(host);
    auto host_address = parse_address(host);
    auto port_number = parse_count(port);
    while (!no_proxy.empty()) {
        auto comma = no_proxy.find(',');
        std::string_view entry = trim(no_proxy.substr(0, comma));
        no_proxy = comma == std::string_view::npos ? std::string_view{} : no_proxy.substr(comma + 1);
        if (!entry.empty() && entry_matches(entry, host, host_address, port_number)) return true;
    }
    return false;
}

}  // namespace wsgather
