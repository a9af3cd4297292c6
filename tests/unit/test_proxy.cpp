// Proxy URLs, and which proxy the environment picks for a feed.
#include "proxy.hpp"

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

using namespace wsgather;

namespace {

// Checks that `text` is refused with exactly `expected` as the message.
void check_rejected(const std::string& text, const std::string& expected) {
    CAPTURE(text);
    try {
        ProxyUrl proxy = parse_proxy_url(text);
        FAIL("accepted, host '" << proxy.host << "' port '" << proxy.port << "'");
    } catch (const ProxyUrlError& e) {
        CHECK(std::string(e.what()) == expected);
    }
}

using Environment = std::map<std::string, std::string>;

std::optional<std::string> chosen(const Environment& environment, bool tls, std::string_view host = "feed.example",
                                  std::string_view port = "443") {
    auto getenv = [&environment](const char* name) -> const char* {
        auto found = environment.find(name);
        return found == environment.end() ? nullptr : found->second.c_str();
    };
    return proxy_for(tls, host, port, getenv);
}

// Whether a wss:// connection to host:port goes direct with this no_proxy.
bool direct(const std::string& no_proxy, std::string_view host, std::string_view port = "443") {
    CAPTURE(no_proxy);
    CAPTURE(host);
    CAPTURE(port);
    return !chosen({{"https_proxy", "http://proxy:3128"}, {"no_proxy", no_proxy}}, true, host, port);
}

}  // namespace

TEST_CASE("proxy: URL with user info and port") {
    ProxyUrl proxy = parse_proxy_url("http://user:secret@proxy.example:3128/");
    CHECK(proxy.url == "http://user:secret@proxy.example:3128/");
    CHECK(proxy.host == "proxy.example");
    CHECK(proxy.port == "3128");
    CHECK(proxy.userinfo == "user:secret");
}

TEST_CASE("proxy: URL port defaults to 80, an IPv6 host loses its brackets") {
    ProxyUrl plain = parse_proxy_url("http://proxy.example");
    CHECK(plain.url == "http://proxy.example");
    CHECK(plain.host == "proxy.example");
    CHECK(plain.port == "80");
    CHECK(plain.userinfo.empty());

    ProxyUrl ipv6 = parse_proxy_url("http://[::1]/");
    CHECK(ipv6.host == "::1");
    CHECK(ipv6.port == "80");

    ProxyUrl ipv6_port = parse_proxy_url("http://[2001:db8::1]:8080");
    CHECK(ipv6_port.host == "2001:db8::1");
    CHECK(ipv6_port.port == "8080");

    CHECK(parse_proxy_url("HTTP://Proxy:1").port == "1");  // the scheme in any case
    CHECK(parse_proxy_url("http://h:65535").port == "65535");
    CHECK(parse_proxy_url("http://h:08080").port == "8080");
}

TEST_CASE("proxy: URL without a scheme is read as http://") {
    ProxyUrl proxy = parse_proxy_url("127.0.0.1:3128");
    CHECK(proxy.url == "127.0.0.1:3128");
    CHECK(proxy.host == "127.0.0.1");
    CHECK(proxy.port == "3128");

    CHECK(parse_proxy_url("proxy").port == "80");
    CHECK(parse_proxy_url("[::1]:3128").host == "::1");
    CHECK(parse_proxy_url("u:p@proxy:3128").userinfo == "u:p");
}

TEST_CASE("proxy: URL user info is percent-decoded") {
    CHECK(parse_proxy_url("http://us%65r:p%40ss%3Aword@h:3128").userinfo == "user:p@ss:word");
    CHECK(parse_proxy_url("http://user@h").userinfo == "user");
    CHECK(parse_proxy_url("http://user:@h").userinfo == "user:");
}

TEST_CASE("proxy: URL with another scheme than http is refused") {
    check_rejected("socks5://h:1",
                   "invalid proxy URL 'socks5://h:1': only http:// proxies are supported (HTTP CONNECT)");
    check_rejected("socks5h://h:1",
                   "invalid proxy URL 'socks5h://h:1': only http:// proxies are supported (HTTP CONNECT)");
    check_rejected("https://h:443",
                   "invalid proxy URL 'https://h:443': only http:// proxies are supported (HTTP CONNECT)");
    check_rejected("ws://h/",
                   "invalid proxy URL 'ws://h/': only http:// proxies are supported (HTTP CONNECT)");
}

TEST_CASE("proxy: URL without a host is refused") {
    check_rejected("", "invalid proxy URL '': empty");
    check_rejected("http://", "invalid proxy URL 'http://': no host");
    check_rejected("http://:3128", "invalid proxy URL 'http://:3128': no host");
    check_rejected(":3128", "invalid proxy URL ':3128': no host");
    check_rejected("http://user:pw@:3128", "invalid proxy URL 'http://user:***@:3128': no host");
}

TEST_CASE("proxy: URL with a bad port is refused") {
    const std::string range = ": a port is a number from 1 to 65535";
    check_rejected("http://h:0", "invalid proxy URL 'http://h:0': bad port '0'" + range);
    check_rejected("http://h:", "invalid proxy URL 'http://h:': bad port ''" + range);
    check_rejected("http://h:65536", "invalid proxy URL 'http://h:65536': bad port '65536'" + range);
    check_rejected("http://h:99999", "invalid proxy URL 'http://h:99999': bad port '99999'" + range);
    // Boost.URL 1.81 alone would take 80 as the port of these two.
    check_rejected("http://h:80:90", "invalid proxy URL 'http://h:80:90': bad port '80:90'" + range);
    check_rejected("http://h:8a0", "invalid proxy URL 'http://h:8a0': bad port '8a0'" + range);
    check_rejected("h:8a0/", "invalid proxy URL 'h:8a0/': bad port '8a0'" + range);
    check_rejected("h:-1", "invalid proxy URL 'h:-1': bad port '-1'" + range);
}

TEST_CASE("proxy: URL with a path, a query or a fragment is refused") {
    check_rejected("http://h:3128/proxy",
                   "invalid proxy URL 'http://h:3128/proxy': a proxy URL cannot have a path ('/proxy')");
    check_rejected("http://h//", "invalid proxy URL 'http://h//': a proxy URL cannot have a path ('//')");
    check_rejected("http://h/?x=1", "invalid proxy URL 'http://h/?x=1': a proxy URL cannot have a ?query");
    check_rejected("http://h?", "invalid proxy URL 'http://h?': a proxy URL cannot have a ?query");
    check_rejected("http://h:1/#top",
                   "invalid proxy URL 'http://h:1/#top': a proxy URL cannot have a #fragment");
}

TEST_CASE("proxy: URL that does not parse is refused, the password hidden") {
    check_rejected("http://h /",
                   "invalid proxy URL 'http://h /': spaces and control characters must be percent-encoded (%20)");
    check_rejected("http://::1:3128",
                   "invalid proxy URL 'http://::1:3128': an IPv6 address is written in brackets, like [::1]");
    check_rejected("::1", "invalid proxy URL '::1': an IPv6 address is written in brackets, like [::1]");
    check_rejected("http://[::1:3128",
                   "invalid proxy URL 'http://[::1:3128': an IPv6 address is written in brackets, like [::1]");
    check_rejected("http://u:p%zz@h",
                   "invalid proxy URL 'http://u:***@h': '%' must begin an escape of two hex digits, like %20");
    check_rejected("http://user:secret@h:0", "invalid proxy URL 'http://user:***@h:0': bad port '0'"
                                             ": a port is a number from 1 to 65535");
    check_rejected("user:secret@h:x", "invalid proxy URL 'user:***@h:x': bad port 'x'"
                                      ": a port is a number from 1 to 65535");
}

TEST_CASE("proxy: URL with a user name holding ':' or a host holding a control character is refused") {
    check_rejected("http://a%3Ab:c@h",
                   "invalid proxy URL 'http://a%3Ab:***@h': a user name cannot contain ':'");
    check_rejected("http://a%00b:1",
                   "invalid proxy URL 'http://a%00b:1': the host holds an encoded space or control character");
}

TEST_CASE("proxy: wss:// reads wss_proxy, WSS_PROXY, https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY in that order") {
    Environment environment{
        {"wss_proxy", "a:1"}, {"WSS_PROXY", "b:2"}, {"https_proxy", "c:3"},
        {"HTTPS_PROXY", "d:4"}, {"all_proxy", "e:5"}, {"ALL_PROXY", "f:6"},
        {"ws_proxy", "x:1"}, {"WS_PROXY", "x:2"}, {"http_proxy", "x:3"}, {"HTTP_PROXY", "x:4"}};
    CHECK(chosen(environment, true) == "a:1");
    environment.erase("wss_proxy");
    CHECK(chosen(environment, true) == "b:2");
    environment.erase("WSS_PROXY");
    CHECK(chosen(environment, true) == "c:3");
    environment.erase("https_proxy");
    CHECK(chosen(environment, true) == "d:4");
    environment.erase("HTTPS_PROXY");
    CHECK(chosen(environment, true) == "e:5");
    environment.erase("all_proxy");
    CHECK(chosen(environment, true) == "f:6");
    environment.erase("ALL_PROXY");
    CHECK(chosen(environment, true) == std::nullopt);
}

TEST_CASE("proxy: ws:// reads ws_proxy, WS_PROXY, http_proxy, all_proxy, ALL_PROXY, never HTTP_PROXY") {
    Environment environment{
        {"ws_proxy", "a:1"}, {"WS_PROXY", "b:2"}, {"http_proxy", "c:3"}, {"HTTP_PROXY", "x:4"},
        {"all_proxy", "e:5"}, {"ALL_PROXY", "f:6"},
        {"wss_proxy", "y:1"}, {"WSS_PROXY", "y:2"}, {"https_proxy", "y:3"}, {"HTTPS_PROXY", "y:4"}};
    CHECK(chosen(environment, false, "h", "80") == "a:1");
    environment.erase("ws_proxy");
    CHECK(chosen(environment, false, "h", "80") == "b:2");
    environment.erase("WS_PROXY");
    CHECK(chosen(environment, false, "h", "80") == "c:3");
    environment.erase("http_proxy");
    CHECK(chosen(environment, false, "h", "80") == "e:5");  // HTTP_PROXY is skipped ("httpoxy")
    environment.erase("all_proxy");
    CHECK(chosen(environment, false, "h", "80") == "f:6");
    environment.erase("ALL_PROXY");
    CHECK(chosen(environment, false, "h", "80") == std::nullopt);
}

TEST_CASE("proxy: no variable, or only empty ones, means a direct connection") {
    CHECK(chosen({}, true) == std::nullopt);
    CHECK(chosen({}, false) == std::nullopt);
    CHECK(chosen({{"https_proxy", ""}, {"all_proxy", ""}}, true) == std::nullopt);
    CHECK(chosen({{"wss_proxy", ""}, {"https_proxy", "http://p:1"}}, true) == "http://p:1");
    CHECK(chosen({{"ws_proxy", ""}, {"WS_PROXY", ""}, {"ALL_PROXY", "p:2"}}, false) == "p:2");
    // The value is given back as written, parse_proxy_url() judges it.
    CHECK(chosen({{"https_proxy", "socks5://x"}}, true) == "socks5://x");
}

TEST_CASE("proxy: no_proxy is read before NO_PROXY, an empty one counts as unset") {
    Environment environment{{"https_proxy", "p:1"}, {"no_proxy", "other.example"}, {"NO_PROXY", "feed.example"}};
    CHECK(chosen(environment, true) == "p:1");
    environment["no_proxy"] = "";
    CHECK(chosen(environment, true) == std::nullopt);
    environment.erase("no_proxy");
    CHECK(chosen(environment, true) == std::nullopt);
    environment.erase("NO_PROXY");
    CHECK(chosen(environment, true) == "p:1");
    CHECK(chosen({{"http_proxy", "p:1"}, {"no_proxy", "feed.example"}}, false, "feed.example", "80") == std::nullopt);
}

TEST_CASE("proxy: no_proxy '*' alone bypasses every host") {
    CHECK(direct("*", "feed.example"));
    CHECK(direct(" * ", "10.1.2.3"));
    CHECK(direct("*", "::1"));
    // As curl reads it: '*' is special only as the whole value.
    CHECK_FALSE(direct("localhost,*", "feed.example"));
}

TEST_CASE("proxy: no_proxy names match the host and its subdomains, in any case") {
    CHECK(direct("feed.example", "feed.example"));
    CHECK(direct("FEED.Example", "feed.EXAMPLE"));
    CHECK(direct("example", "feed.example"));
    CHECK(direct(".example", "feed.example"));
    CHECK(direct(".example", "example"));
    CHECK(direct("*.example", "a.b.example"));
    CHECK(direct("*.example", "example"));
    CHECK(direct("feed.example.", "feed.example"));
    CHECK(direct("feed.example", "feed.example."));
    CHECK_FALSE(direct("feed.example", "badfeed.example"));
    CHECK_FALSE(direct("feed.example", "feed.example.org"));
    CHECK_FALSE(direct("a.feed.example", "feed.example"));
    CHECK_FALSE(direct(".", "feed.example"));
    CHECK_FALSE(direct("localhost", "127.0.0.1"));  // names are not resolved
}

TEST_CASE("proxy: no_proxy entries are separated by commas, blanks around them ignored") {
    CHECK(direct("a.example, feed.example", "feed.example"));
    CHECK(direct("a.example,\tfeed.example\t,b.example", "feed.example"));
    CHECK(direct(",,feed.example,,", "feed.example"));
    CHECK_FALSE(direct("", "feed.example"));
    CHECK_FALSE(direct(" , ", "feed.example"));
    CHECK_FALSE(direct("a.example b.example feed.example", "feed.example"));  // commas only, not spaces
}

TEST_CASE("proxy: no_proxy IP entries match that address, not names") {
    CHECK(direct("127.0.0.1", "127.0.0.1"));
    CHECK(direct("::1", "::1"));
    CHECK(direct("0:0:0:0:0:0:0:1", "::1"));  // compared as addresses
    CHECK(direct("2001:DB8::1", "2001:db8::1"));
    CHECK_FALSE(direct("127.0.0.1", "127.0.0.2"));
    CHECK_FALSE(direct("::1", "::2"));
    CHECK_FALSE(direct("127.0.0.1", "localhost"));
    CHECK_FALSE(direct("0.0.1", "10.0.0.1"));  // not a domain suffix of an address
    CHECK_FALSE(direct("::ffff:127.0.0.1", "127.0.0.1"));  // the families never match
}

TEST_CASE("proxy: no_proxy CIDR entries match addresses inside them") {
    CHECK(direct("10.0.0.0/8", "10.255.0.1"));
    CHECK_FALSE(direct("10.0.0.0/8", "11.0.0.1"));
    CHECK(direct("192.168.1.0/25", "192.168.1.127"));
    CHECK_FALSE(direct("192.168.1.0/25", "192.168.1.128"));
    CHECK(direct("10.1.2.3/8", "10.9.9.9"));  // host bits in the entry do not count
    CHECK(direct("0.0.0.0/0", "203.0.113.9"));
    CHECK(direct("127.0.0.1/32", "127.0.0.1"));
    CHECK_FALSE(direct("127.0.0.1/32", "127.0.0.2"));
    CHECK(direct("::1/128", "::1"));
    CHECK_FALSE(direct("::1/128", "::2"));
    CHECK(direct("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK_FALSE(direct("2001:db8::/32", "2001:db9::1"));
    CHECK(direct("fe80::/10", "febf::1"));
    CHECK_FALSE(direct("fe80::/10", "fec0::1"));
    CHECK(direct("[2001:db8::]/32", "2001:db8::5"));
    CHECK(direct("[2001:db8::/32]", "2001:db8::5"));
    CHECK_FALSE(direct("10.0.0.0/8", "::ffff:10.0.0.1"));
    CHECK_FALSE(direct("10.0.0.0/33", "10.0.0.1"));
    CHECK_FALSE(direct("::/129", "::1"));
    CHECK_FALSE(direct("10.0.0.0/x", "10.0.0.1"));
    CHECK_FALSE(direct("example/8", "example"));
}

TEST_CASE("proxy: no_proxy host:port entries match only that port") {
    CHECK(direct("feed.example:443", "feed.example", "443"));
    CHECK_FALSE(direct("feed.example:8443", "feed.example", "443"));
    CHECK(direct(".example:8443", "a.feed.example", "8443"));
    CHECK(direct("127.0.0.1:9000", "127.0.0.1", "9000"));
    CHECK_FALSE(direct("127.0.0.1:9000", "127.0.0.1", "9001"));
    CHECK(direct("10.0.0.0/8:80", "10.0.0.1", "80"));
    CHECK_FALSE(direct("10.0.0.0/8:80", "10.0.0.1", "81"));
    CHECK(direct("[::1]:9000", "::1", "9000"));
    CHECK_FALSE(direct("[::1]:9000", "::1", "9001"));
    CHECK(direct("[2001:db8::]/32:80", "2001:db8::1", "80"));
    CHECK_FALSE(direct("[2001:db8::]/32:80", "2001:db8::1", "443"));
    CHECK(direct("feed.example:0443", "feed.example", "443"));  // ports compared as numbers
}

TEST_CASE("proxy: no_proxy IPv6 entries may be written in brackets, the host too") {
    CHECK(direct("[::1]", "::1"));
    CHECK(direct("[::1]", "[::1]"));
    CHECK(direct("::1", "[::1]"));
    CHECK(direct("feed.example,[2001:db8::1]", "2001:db8::1"));
}

TEST_CASE("proxy: no_proxy entries that make no sense match nothing") {
    CHECK_FALSE(direct("[::1", "::1"));
    CHECK_FALSE(direct("[::1]x", "::1"));
    CHECK_FALSE(direct("[::1/128]/128", "::1"));
    CHECK_FALSE(direct("feed.example:", "feed.example"));
    CHECK_FALSE(direct("feed.example:https", "feed.example"));
    CHECK(direct("[::1, feed.example", "feed.example"));  // the others still count
}

TEST_CASE("proxy: bypasses_proxy reads a no_proxy value directly") {
    CHECK(bypasses_proxy("localhost,127.0.0.0/8,::1", "127.0.0.1", "9000"));
    CHECK(bypasses_proxy("localhost,127.0.0.0/8,::1", "localhost", "9000"));
    CHECK_FALSE(bypasses_proxy("localhost,127.0.0.0/8,::1", "feed.example", "443"));
}
