// Fuzzes parse_feed_argument (lib/feed_url), one "[NAME=]URL" argument per
// input. FeedUrlError is its answer to bad input; any other exception is a
// bug. What it accepts must hold what docs/cli.md and FeedSpec promise, and
// the URL it keeps for logs must read back as the same feed.
#include "feed_url.hpp"
#include "units.hpp"

#include <boost/url/parse.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

using namespace wsgather;

namespace {

std::string_view input;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz_feed_url: %s %.*s\n  argument: '%.*s'\n", what, static_cast<int>(detail.size()),
                 detail.data(), static_cast<int>(input.size()), input.data());
    std::abort();
}

void require(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) fail(what, detail);
}

// Bytes that must never reach an HTTP request line or header.
bool printable_ascii(std::string_view text) {
    for (unsigned char c : text)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

// A feed name: any run of printable characters without spaces.
bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

std::optional<FeedSpec> parse(std::string_view argument) {
    try {
        return parse_feed_argument(argument);
    } catch (const FeedUrlError& e) {
        require(*e.what() != '\0', "FeedUrlError without a message");
        return std::nullopt;
    } catch (const std::exception& e) {
        fail("unexpected exception:", e.what());
    } catch (...) {
        fail("unexpected exception that is not a std::exception");
    }
}

// docs/cli.md: only a '=' before "://" starts a name.
std::string_view url_part(std::string_view argument) {
    auto equals = argument.find('='), scheme_end = argument.find("://");
    if (equals != std::string_view::npos && (scheme_end == std::string_view::npos || equals < scheme_end))
        return argument.substr(equals + 1);
    return argument;
}

void check(const FeedSpec& spec) {
    require(valid_name(spec.name), "bad name:", spec.name);
    require(!spec.host.empty(), "empty host");
    auto port = parse_count(spec.port);
    require(port && *port >= 1 && *port <= 65535, "bad port:", spec.port);
    require(!spec.target.empty() && spec.target.front() == '/', "target does not start with '/':", spec.target);
    require(printable_ascii(spec.target), "target holds bytes an HTTP request line cannot:", spec.target);
    require(spec.target.find('#') == std::string::npos, "fragment kept in the target:", spec.target);
    require(printable_ascii(spec.host_header), "Host header holds bytes it cannot:", spec.host_header);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input = std::string_view(reinterpret_cast<const char*>(data), size);
    auto spec = parse(input);
    if (!spec) return 0;
    check(*spec);

    std::string_view url = url_part(input);
    auto written = boost::urls::parse_uri(url);
    require(written.has_value(), "accepted a URL that Boost.URL refuses");
    require(spec->tls == (written->scheme().size() == 3), "tls does not follow the scheme");
    auto logged = boost::urls::parse_uri(spec->url);
    require(logged.has_value(), "the url kept for logs is not a URL:", spec->url);
    if (written->has_password()) {
        require(logged->password() == "***" && logged->encoded_user() == written->encoded_user(),
                "password not hidden as *** in the url kept for logs:", spec->url);
    } else {
        require(spec->url == url, "the url kept for logs is not the one written:", spec->url);
    }

    // Read back, the url kept for logs must name the same feed.
    auto again = parse(spec->url);
    require(again.has_value(), "the url kept for logs does not parse:", spec->url);
    require(again->url == spec->url, "hiding the password twice changes the url:", again->url);
    require(again->tls == spec->tls && again->host == spec->host && again->port == spec->port &&
                again->host_header == spec->host_header && again->target == spec->target,
            "the url kept for logs reads back differently:", spec->url);
    if (url == input) require(again->name == spec->name, "the name changed on reading back:", again->name);
    if (!written->has_password()) require(again->userinfo == spec->userinfo, "userinfo changed:", again->userinfo);
    return 0;
}
