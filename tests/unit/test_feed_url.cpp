// "[NAME=]URL" arguments into FeedSpecs.
#include "feed_url.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wsgather;

namespace {

// Checks that `argument` is refused and that the message quotes `bad`.
void check_rejected(const std::string& argument, const std::string& bad) {
    CAPTURE(argument);
    try {
        FeedSpec spec = parse_feed_argument(argument);
        FAIL("accepted, named '" << spec.name << "'");
    } catch (const FeedUrlError& e) {
        std::string message = e.what();
        CAPTURE(message);
        CHECK(message.find("'" + bad + "'") != std::string::npos);
    }
}

}  // namespace

TEST_CASE("feed argument with NAME= takes that name") {
    FeedSpec spec = parse_feed_argument("trades=ws://h/p");
    CHECK(spec.name == "trades");
    CHECK(spec.url == "ws://h/p");
    CHECK(spec.host == "h");
    CHECK(spec.target == "/p");
}

TEST_CASE("feed name defaults to host, written port and path") {
    CHECK(parse_feed_argument("ws://127.0.0.1:9000/a/b?x=1").name == "127.0.0.1:9000/a/b");
    CHECK(parse_feed_argument("ws://h/").name == "h");
    CHECK(parse_feed_argument("ws://h").name == "h");
    CHECK(parse_feed_argument("wss://feed.example/ws").name == "feed.example/ws");
    CHECK(parse_feed_argument("ws://h:80/").name == "h:80");  // a written port is kept, even the default one
    CHECK(parse_feed_argument("ws://h/a/").name == "h/a/");
    CHECK(parse_feed_argument("ws://user:pw@h/a").name == "h/a");  // never the credentials
}

TEST_CASE("feed argument without a name may hold '=' in its query") {
    FeedSpec spec = parse_feed_argument("ws://h/?a=b");
    CHECK(spec.name == "h");
    CHECK(spec.url == "ws://h/?a=b");
    CHECK(spec.target == "/?a=b");

    FeedSpec named = parse_feed_argument("n=ws://h/p?a=b&c==d");
    CHECK(named.name == "n");
    CHECK(named.url == "ws://h/p?a=b&c==d");
    CHECK(named.target == "/p?a=b&c==d");
}

TEST_CASE("feed port defaults to 80 for ws and 443 for wss") {
    FeedSpec ws = parse_feed_argument("ws://h/p");
    CHECK_FALSE(ws.tls);
    CHECK(ws.port == "80");
    CHECK(ws.host_header == "h");

    FeedSpec wss = parse_feed_argument("wss://h/p");
    CHECK(wss.tls);
    CHECK(wss.port == "443");
    CHECK(wss.host_header == "h");

    FeedSpec explicit_port = parse_feed_argument("wss://h:8443/p");
    CHECK(explicit_port.port == "8443");
    CHECK(explicit_port.host_header == "h:8443");
}

TEST_CASE("feed target keeps path and query exactly as written") {
    FeedSpec spec = parse_feed_argument("ws://h/a%20b/c%2Fd/%7e?q=%2F&x=y+z&e=%C3%A9");
    CHECK(spec.target == "/a%20b/c%2Fd/%7e?q=%2F&x=y+z&e=%C3%A9");
    CHECK(spec.name == "h/a%20b/c%2Fd/%7e");
}

TEST_CASE("feed target is '/' when the URL has no path") {
    CHECK(parse_feed_argument("ws://h").target == "/");
    CHECK(parse_feed_argument("ws://h:1234").target == "/");
    CHECK(parse_feed_argument("ws://h?x=1").target == "/?x=1");
}

TEST_CASE("feed host from an IPv6 literal loses its brackets, the Host header keeps them") {
    FeedSpec spec = parse_feed_argument("wss://[::1]:8443/x");
    CHECK(spec.host == "::1");
    CHECK(spec.port == "8443");
    CHECK(spec.host_header == "[::1]:8443");
    CHECK(spec.target == "/x");
    CHECK(spec.name == "[::1]:8443/x");

    FeedSpec default_port = parse_feed_argument("ws://[2001:db8::1]/");
    CHECK(default_port.host == "2001:db8::1");
    CHECK(default_port.port == "80");
    CHECK(default_port.host_header == "[2001:db8::1]");
}

TEST_CASE("feed userinfo is kept for Basic auth and the password is redacted in url") {
    FeedSpec spec = parse_feed_argument("ws://user:secret@h:9000/p?q=1");
    CHECK(spec.userinfo == "user:secret");
    CHECK(spec.url == "ws://user:***@h:9000/p?q=1");
    CHECK(spec.url.find("secret") == std::string::npos);
    CHECK(spec.host == "h");
    CHECK(spec.host_header == "h:9000");

    FeedSpec no_password = parse_feed_argument("ws://user@h/");
    CHECK(no_password.userinfo == "user");
    CHECK(no_password.url == "ws://user@h/");

    CHECK(parse_feed_argument("ws://h/").userinfo.empty());
}

TEST_CASE("feed argument with another scheme is refused") {
    check_rejected("http://h/", "http");
    check_rejected("https://h/", "https");
    check_rejected("n=ftp://h/", "ftp");
}

TEST_CASE("feed argument that is not a URL is refused") {
    check_rejected("h/path", "h/path");
    check_rejected("127.0.0.1:9000", "127.0.0.1:9000");
    check_rejected("", "");
    check_rejected("ws://h/a b", "ws://h/a b");
    check_rejected("ws://h/%zz", "ws://h/%zz");  // a broken percent-escape
}

TEST_CASE("feed URL without a host is refused") {
    check_rejected("ws:///p", "ws:///p");
    check_rejected("ws:/p", "ws:/p");
    check_rejected("wss:", "wss:");
}

TEST_CASE("feed URL with port 0, an empty or an out-of-range port is refused") {
    check_rejected("ws://h:0/", "ws://h:0/");
    check_rejected("ws://h:/", "ws://h:/");
    check_rejected("ws://h:65536/", "ws://h:65536/");
}

// Regression: Boost.URL 1.81's port_number() wraps past 65535 (99999 gives
// 34463), so the port is checked as text.
TEST_CASE("feed URL with a port past 65535 is refused") {
    check_rejected("ws://h:99999/", "ws://h:99999/");
    check_rejected("ws://h:70000/", "ws://h:70000/");
}

TEST_CASE("feed URL with a fragment is refused") {
    check_rejected("ws://h/p#frag", "ws://h/p#frag");
    check_rejected("ws://h/#", "ws://h/#");
}

TEST_CASE("feed name with a space, a control character or nothing is refused") {
    check_rejected("a b=ws://h/", "a b");
    check_rejected("a\tb=ws://h/", "a\tb");
    check_rejected("=ws://h", "=ws://h");
    check_rejected("=ws://h", "");
}

// Schemes are case-insensitive (RFC 3986, section 3.1).
TEST_CASE("feed scheme is case-insensitive") {
    FeedSpec spec = parse_feed_argument("WSS://h/");
    CHECK(spec.tls);
    CHECK(spec.port == "443");
}

// Where a redirect leads: an '=' before "://" is part of the URL, not a name.
TEST_CASE("a URL alone has the derived name and no NAME= part") {
    FeedSpec spec = parse_feed_url("ws://h:81/a?b=c");
    CHECK(spec.name == "h:81/a");
    CHECK(spec.target == "/a?b=c");
    CHECK_THROWS_AS(parse_feed_url("x=ws://h/"), FeedUrlError);
}

TEST_CASE("request URL: scheme, Host and target, without user info") {
    CHECK(request_url(parse_feed_url("wss://u:p@[::1]:8443/p?q")) == "wss://[::1]:8443/p?q");
    CHECK(request_url(parse_feed_url("ws://h")) == "ws://h/");
}

TEST_CASE("an encoded control character in the host, or ':' in the user name, is refused") {
    CHECK_THROWS_WITH_AS(parse_feed_url("ws://a%00b.example/x"),
                         "invalid URL 'ws://a%00b.example/x': the host holds an encoded space or control character",
                         FeedUrlError);
    check_rejected("ws://a%0ab/", "ws://a%0ab/");
    // The password stays hidden in the message.
    CHECK_THROWS_WITH_AS(parse_feed_url("ws://u%3Ax:p@h/"),
                         "invalid URL 'ws://u%3Ax:***@h/': a user name cannot contain ':'", FeedUrlError);
    CHECK(parse_feed_url("ws://u%40x:p%3Aq@h/").userinfo == "u@x:p:q");
}

TEST_CASE("a password with an unencoded '/', '?' or '#' is refused without showing any of it") {
    for (std::string_view url : {"ws://u:pa/ss@h/", "ws://u:pa?ss@h/", "ws://u:p#ss@h/"})
        CHECK_THROWS_WITH_AS(parse_feed_url(url),
                             "invalid URL 'ws://u:***@h/': a password with '/', '?' or '#' must have them "
                             "percent-encoded (%2F, %3F, %23)",
                             FeedUrlError);
    CHECK(parse_feed_url("ws://u:pa%2Fss@h/").userinfo == "u:pa/ss");
}

TEST_CASE("a URL's password is hidden in every message, even when the URL does not parse") {
    CHECK(hide_password("ws://u:pw@h/x") == "ws://u:***@h/x");
    CHECK(hide_password("a=wss://u:p@ss@h:1/?q=a:b@c") == "a=wss://u:***@h:1/?q=a:b@c");
    CHECK(hide_password("ws://u@h/") == "ws://u@h/");
    CHECK(hide_password("ws://h:80/p?a@b") == "ws://h:80/p?a@b");
    CHECK(hide_password("ws://u:@h") == "ws://u:***@h");
    CHECK(hide_password("no url here: a@b") == "no url here: a@b");
    // A password that should have been percent-encoded is hidden all the same.
    CHECK(hide_password("invalid URL 'ws://u:pa/ss@h/x?m=a@b'") == "invalid URL 'ws://u:***@h/x?m=a@b'");
    CHECK(hide_password("ws://u:p?w#d@h") == "ws://u:***@h");
    CHECK(hide_password("ws://h:80/p?m=a@b") == "ws://h:80/p?m=a@b");
    CHECK(hide_password("ws://[::1]:80/p?m=a@b") == "ws://[::1]:80/p?m=a@b");
    CHECK(hide_password("ws://h:abc/p then a@b") == "ws://h:abc/p then a@b");
    CHECK(hide_password("ws://host:077user:pa's@9631919/") == "ws://host:***@9631919/");  // found by fuzz_feed_url
    check_rejected("ws://u:s3cret@h:99999/", "ws://u:***@h:99999/");
    check_rejected("ws://u:s3cret@h/a b", "ws://u:***@h/a b");
    check_rejected("a b=ws://u:s3cret@h/", "a b=ws://u:***@h/");
    CHECK(parse_feed_argument("ws://u:s3cret@h/").url == "ws://u:***@h/");
}
