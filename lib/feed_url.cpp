#include "feed_url.hpp"

#include "units.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace wsgather {

// Names go into JSON and log lines: keep them printable and one word.
bool valid_feed_name(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

FeedSpec parse_feed_argument(std::string_view argument) {
    // A name may only come before the scheme: "a=ws://h/?x=1" has name "a",
    // "ws://h/?x=1" has none even though it holds a '='.
    std::string_view name, url = argument;
    auto scheme_end = argument.find("://");
    auto equals = argument.find('=');
    if (equals != std::string_view::npos && (scheme_end == std::string_view::npos || equals < scheme_end)) {
        name = argument.substr(0, equals);
        url = argument.substr(equals + 1);
        if (!valid_feed_name(name))
            throw FeedUrlError(fmt::format("invalid feed name '{}' in '{}': a name must be non-empty, "
                                           "without spaces or control characters", name, hide_password(argument)));
    }
    if (url.empty())
        throw FeedUrlError(fmt::format("invalid feed '{}': no URL after '='", argument));
    FeedSpec spec = parse_feed_url(url);
    if (!name.empty()) spec.name = std::string(name);
    return spec;
}

FeedSpec parse_feed_url(std::string_view url) {
    // What messages and logs show: never the password.
    std::string shown = hide_password(url);
    auto parsed = boost::urls::parse_uri(std::string_view(url));
    if (!parsed) {
        // Boost.URL's own words ("mismatch", "leftover") tell a user nothing.
        std::string_view problem = "not a valid URL";
        if (url.empty()) problem = "empty";
        else if (url.find("://") == std::string_view::npos) problem = "no scheme: write ws:// or wss:// first";
        else if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
            problem = "spaces and control characters must be percent-encoded (%20)";
        else if (url.find('[') != std::string_view::npos || url.find(']') != std::string_view::npos)
            problem = "an IPv6 address is written in brackets, like [::1]";
        else if (url.find('%') != std::string_view::npos)
            problem = "'%' must begin an escape of two hex digits, like %20";
        throw FeedUrlError(fmt::format("invalid URL '{}': {}", shown, problem));
    }
    const auto& u = *parsed;
    // hide_password found a password where the parser found none: one that
    // ends the authority early, so host, port and path are bits of it.
    if (!u.has_userinfo() && shown != url)
        throw FeedUrlError(fmt::format("invalid URL '{}': a password with '/', '?' or '#' must have them "
                                       "percent-encoded (%2F, %3F, %23)", shown));

    FeedSpec spec;
    spec.url = shown;
    // Schemes are case-insensitive (RFC 3986, 3.1).
    std::string scheme(u.scheme());
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "ws") spec.tls = false;
    else if (scheme == "wss") spec.tls = true;
    else throw FeedUrlError(fmt::format("unsupported scheme '{}' in '{}': use ws:// or wss://", scheme, shown));

    if (!u.has_authority() || u.encoded_host().empty())
        throw FeedUrlError(fmt::format("invalid URL '{}': no host", shown));
    if (u.host_type() == boost::urls::host_type::ipvfuture)
        throw FeedUrlError(fmt::format("invalid URL '{}': unsupported host", shown));
    // Boost.URL 1.81 takes the leading digits of "80:90" or "8a0" as the port
    // and leaves the rest at the start of the path; its port_number() wraps
    // past 65535. So the port is checked as text, with that rest.
    std::string_view encoded_path = u.encoded_path();
    std::string_view rest =
        encoded_path.starts_with('/') ? std::string_view{} : encoded_path.substr(0, encoded_path.find('/'));
    if (u.has_port() || !rest.empty()) {
        std::string port_text = std::string(u.port()) + std::string(rest);
        auto port = parse_count(port_text);
        if (!port || *port == 0 || *port > 65535)
            throw FeedUrlError(fmt::format("invalid URL '{}': bad port '{}'", shown, port_text));
    }
    if (u.has_fragment())
        throw FeedUrlError(fmt::format("invalid URL '{}': a WebSocket URL cannot have a #fragment", shown));

    // host_address() drops the brackets of an IPv6 literal, which DNS and
    // certificate checks need; the Host header keeps them.
    spec.host = std::string(u.host_address());
    // host_address() decodes %XX: "a%00b" would be "a" to DNS and "a%00b" in
    // the Host header.
    if (std::any_of(spec.host.begin(), spec.host.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
        throw FeedUrlError(fmt::format("invalid URL '{}': the host holds an encoded space or control character", shown));
    spec.port = u.has_port() ? std::string(u.port()) : std::string(spec.tls ? "443" : "80");
    spec.host_header = std::string(u.encoded_host_and_port());
    spec.target = std::string(u.encoded_target());
    if (spec.target.empty() || spec.target.front() != '/') spec.target = "/" + spec.target;
    if (u.has_userinfo()) {
        // Basic authentication splits at the first ':' (RFC 7617).
        if (std::string(u.user()).find(':') != std::string::npos)
            throw FeedUrlError(fmt::format("invalid URL '{}': a user name cannot contain ':'", shown));
        spec.userinfo = std::string(u.userinfo());
    }

    std::string path(u.encoded_path());
    if (path == "/") path.clear();
    spec.name = std::string(u.encoded_host_and_port()) + path;
    return spec;
}

std::string request_url(const FeedSpec& spec) {
    return fmt::format("{}://{}{}", spec.tls ? "wss" : "ws", spec.host_header, spec.target);
}

std::string hide_password(std::string_view text) {
    auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) return std::string(text);
    std::size_t authority = scheme_end + 3;
    std::string_view after = text.substr(authority);
    std::string_view rest = after.substr(0, after.find_first_of("/?#"));
    auto colon = rest.find(':');
    if (rest.starts_with('[') || colon == std::string_view::npos) return std::string(text);  // no password
    auto at = rest.rfind('@');
    if (at == std::string_view::npos) {
        // A password with an unencoded '/', '?' or '#' ends the authority
        // early (the URL does not parse, and its error shows it): what
        // follows the ':' is no port, and an '@' comes later in the URL,
        // which ends where the words around it start.
        bool port = rest.find_first_not_of("0123456789", colon + 1) == std::string_view::npos;
        at = after.substr(0, after.find_first_of(" \t'\"")).find('@', colon);
        if (port || at == std::string_view::npos) return std::string(text);
    }
    if (colon > at) return std::string(text);
    return fmt::format("{}***{}", text.substr(0, authority + colon + 1), text.substr(authority + at));
}

}  // namespace wsgather
