// The command line: argv into Options, or an exit status with one message.
#include "cli.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

using namespace wsgather;
using namespace std::chrono_literals;

namespace {

CommandLine parse(std::initializer_list<const char*> arguments) {
    std::vector<const char*> argv{"wsgather"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

// Parses a command line that must be accepted.
Options accepted(std::initializer_list<const char*> arguments) {
    CommandLine result = parse(arguments);
    CAPTURE(result.error);
    REQUIRE(result.options.has_value());
    CHECK(result.exit_status == 0);
    CHECK(result.error.empty());
    CHECK(result.out.empty());
    return *result.options;
}

// Checks a usage error: status 2, one line, quoting `bad`.
void check_usage_error(std::initializer_list<const char*> arguments, const std::string& bad) {
    CommandLine result = parse(arguments);
    CAPTURE(result.error);
    CHECK_FALSE(result.options.has_value());
    CHECK(result.exit_status == 2);
    CHECK(result.out.empty());
    CHECK_FALSE(result.error.empty());
    CHECK(result.error.find('\n') == std::string::npos);
    CHECK(result.error.find(bad) != std::string::npos);
}

}  // namespace

TEST_CASE("command line defaults match the documented values") {
    Options o = accepted({"ws://h/p"});
    REQUIRE(o.feeds.size() == 1);
    CHECK(o.feeds[0].spec.name == "h/p");
    CHECK(o.feeds[0].spec.url == "ws://h/p");
    CHECK(o.feeds[0].connect.headers.empty());
    CHECK(o.feeds[0].connect.subprotocols.empty());
    CHECK(o.feeds[0].connect.send.empty());
    CHECK(o.feeds[0].connect.connect_timeout == 10s);
    CHECK(o.feeds[0].connect.ping_interval == 20s);
    CHECK(o.feeds[0].connect.ping_timeout == 20s);
    CHECK(o.feeds[0].connect.close_timeout == 2s);
    CHECK(o.feeds[0].connect.max_message_size == std::size_t{16} << 20);
    CHECK_FALSE(o.feeds[0].connect.compress);
    CHECK(o.feeds[0].reconnect.enabled);
    CHECK(o.feeds[0].reconnect.backoff_min == 500ms);
    CHECK(o.feeds[0].reconnect.backoff_max == 30s);
    CHECK(o.feeds[0].reconnect.max_retries == 0);
    CHECK(o.feeds[0].tls.ca_file.empty());
    CHECK(o.feeds[0].tls.cert_file.empty());
    CHECK(o.feeds[0].tls.key_file.empty());
    CHECK_FALSE(o.feeds[0].tls.insecure);
    CHECK(o.output.format == Format::jsonl);
    CHECK(o.output.files.empty());
    CHECK(o.output.per_feed_dir.empty());
    CHECK(o.output.rotate.size == 0);
    CHECK(o.output.rotate.interval == 0ms);
    CHECK_FALSE(o.output.rotate.compress);
    CHECK(o.output.buffer == 1024);
    CHECK(o.run.count == 0);
    CHECK(o.run.duration == 0ms);
    CHECK(o.run.threads == 1);
    CHECK(o.feeds[0].connect.coalesce_when_busy);
    CHECK(o.verbosity == Verbosity::normal);
}

TEST_CASE("command line reads every option into Options") {
    Options o = accepted({"-H", "X-Api-Key:  abc def ", "--header", "User-Agent: me/1", "--subprotocol", "v2.json",
                          "--subprotocol", "v1", "-s", "first", "--send", "{\"op\":\"sub\"}", "-s", "third",
                          "--connect-timeout", "3s", "--ping-interval", "0", "--ping-timeout", "1500ms",
                          "--max-message-size", "64KiB", "--compress", "--coalesce", "2ms", "--backoff-min", "1ms",
                          "--backoff-max", "1m", "--max-retries", "5", "--no-reconnect", "--ca-file", "ca.pem",
                          "--cert", "c.pem", "--key", "k.pem", "-k", "--format", "raw", "-o", "out.jsonl", "--buffer",
                          "7", "-n", "100", "-t", "1h", "--threads", "3", "-q", "a=ws://h/1", "wss://h:8443/2"});
    REQUIRE(o.feeds.size() == 2);
    CHECK(o.feeds[0].spec.name == "a");
    CHECK(o.feeds[1].spec.name == "h:8443/2");
    CHECK(o.feeds[1].spec.tls);
    REQUIRE(o.feeds[0].connect.headers.size() == 2);
    CHECK(o.feeds[0].connect.headers[0].name == "X-Api-Key");
    CHECK(o.feeds[0].connect.headers[0].value == "abc def");
    CHECK(o.feeds[0].connect.headers[1].name == "User-Agent");
    CHECK(o.feeds[0].connect.headers[1].value == "me/1");
    CHECK(o.feeds[0].connect.subprotocols == std::vector<std::string>{"v2.json", "v1"});
    CHECK(o.feeds[0].connect.send == std::vector<std::string>{"first", "{\"op\":\"sub\"}", "third"});
    CHECK(o.feeds[0].connect.connect_timeout == 3s);
    CHECK(o.feeds[0].connect.ping_interval == 0ms);
    CHECK(o.feeds[0].connect.ping_timeout == 1500ms);
    CHECK(o.feeds[0].connect.max_message_size == 65536);
    CHECK(o.feeds[0].connect.compress);
    CHECK_FALSE(o.feeds[0].connect.coalesce_when_busy);
    CHECK(o.feeds[0].connect.coalesce == 2ms);
    CHECK(o.feeds[0].reconnect.backoff_min == 1ms);
    CHECK(o.feeds[0].reconnect.backoff_max == 60s);
    CHECK(o.feeds[0].reconnect.max_retries == 5);
    CHECK_FALSE(o.feeds[0].reconnect.enabled);
    CHECK(o.feeds[0].tls.ca_file == "ca.pem");
    CHECK(o.feeds[0].tls.cert_file == "c.pem");
    CHECK(o.feeds[0].tls.key_file == "k.pem");
    CHECK(o.feeds[0].tls.insecure);
    CHECK(o.output.format == Format::raw);
    CHECK(o.output.files == std::vector<std::string>{"out.jsonl"});
    CHECK(o.output.buffer == 7);
    CHECK(o.run.count == 100);
    CHECK(o.run.duration == 1h);
    CHECK(o.run.threads == 3);
    CHECK(o.verbosity == Verbosity::quiet);
}

TEST_CASE("command line reads long options and the --opt=value form") {
    Options o = accepted({"--insecure", "--output=x.log", "--count=3", "--duration=90", "--verbose", "--format=jsonl",
                          "--buffer=1", "ws://h/"});
    CHECK(o.feeds[0].tls.insecure);
    CHECK(o.output.files == std::vector<std::string>{"x.log"});
    CHECK(o.run.count == 3);
    CHECK(o.run.duration == 90s);
    CHECK(o.output.format == Format::jsonl);
    CHECK(o.output.buffer == 1);
    CHECK(o.verbosity == Verbosity::verbose);
}

TEST_CASE("command line takes URLs between options") {
    Options o = accepted({"-H", "A: b", "ws://x/1", "-s", "hi", "ws://x/2"});
    REQUIRE(o.feeds.size() == 2);
    CHECK(o.feeds[0].spec.name == "x/1");
    CHECK(o.feeds[1].spec.name == "x/2");
    REQUIRE(o.feeds[0].connect.headers.size() == 1);
    CHECK(o.feeds[0].connect.headers[0].name == "A");
    CHECK(o.feeds[0].connect.headers[0].value == "b");
    CHECK(o.feeds[0].connect.send == std::vector<std::string>{"hi"});
}

TEST_CASE("command line keeps feeds in the order given") {
    Options o = accepted({"c=ws://h/", "a=ws://h/", "b=ws://h/"});
    REQUIRE(o.feeds.size() == 3);
    CHECK(o.feeds[0].spec.name == "c");
    CHECK(o.feeds[1].spec.name == "a");
    CHECK(o.feeds[2].spec.name == "b");
}

TEST_CASE("command line accepts a --cert without --key and an empty header value") {
    Options o = accepted({"--cert", "both.pem", "-H", "X-Empty:", "ws://h/"});
    CHECK(o.feeds[0].tls.cert_file == "both.pem");
    CHECK(o.feeds[0].tls.key_file.empty());
    REQUIRE(o.feeds[0].connect.headers.size() == 1);
    CHECK(o.feeds[0].connect.headers[0].name == "X-Empty");
    CHECK(o.feeds[0].connect.headers[0].value == "");
}

TEST_CASE("command line --help prints help with examples and exits 0") {
    for (const char* flag : {"--help", "-h"}) {
        CommandLine result = parse({flag});
        CAPTURE(flag);
        CHECK_FALSE(result.options.has_value());
        CHECK(result.exit_status == 0);
        CHECK(result.error.empty());
        CHECK(result.out.find("Examples") != std::string::npos);
        CHECK(result.out.find("--max-message-size") != std::string::npos);
    }
    // Help wins over everything else on the line, even bad values.
    CommandLine with_others = parse({"--buffer", "0", "ws://h/", "--help"});
    CHECK(with_others.exit_status == 0);
    CHECK(with_others.out.find("Examples") != std::string::npos);
}

TEST_CASE("command line -V prints the version and exits 0") {
    for (const char* flag : {"-V", "--version"}) {
        CommandLine result = parse({flag});
        CAPTURE(flag);
        CHECK_FALSE(result.options.has_value());
        CHECK(result.exit_status == 0);
        CHECK(result.error.empty());
        CHECK(result.out == "wsgather 0.1.0\n");
    }
}

TEST_CASE("command line without a URL is a usage error") {
    check_usage_error({}, "no feed URL");
    check_usage_error({"-n", "5"}, "no feed URL");
}

TEST_CASE("command line with a bad URL is a usage error naming it") {
    check_usage_error({"not a url"}, "not a url");
    check_usage_error({"http://h/"}, "http");
    check_usage_error({"ws://h/", "https://h/x"}, "https://h/x");
    check_usage_error({"ws://h:0/"}, "ws://h:0/");
    check_usage_error({"ws://h/#x"}, "ws://h/#x");
    check_usage_error({"a b=ws://h/"}, "a b");
}

TEST_CASE("command line with two feeds of the same name is a usage error") {
    check_usage_error({"ws://h/a", "ws://h/a?x=1"}, "'h/a'");
    check_usage_error({"x=ws://h/1", "x=ws://h/2"}, "'x'");
    check_usage_error({"h=ws://a/", "ws://h"}, "'h'");  // explicit and default names clash too
}

TEST_CASE("command line with a bad duration is a usage error for each option") {
    for (const char* option : {"--connect-timeout", "--ping-interval", "--ping-timeout", "--backoff-min",
                               "--backoff-max", "--duration", "-t", "--coalesce"}) {
        CAPTURE(option);
        check_usage_error({option, "10x", "ws://h/"}, "'10x'");
        check_usage_error({option, "1e3", "ws://h/"}, "'1e3'");
    }
}

TEST_CASE("command line refuses zero for durations that must be positive") {
    check_usage_error({"--connect-timeout", "0", "ws://h/"}, "--connect-timeout");
    check_usage_error({"--ping-timeout", "0ms", "ws://h/"}, "--ping-timeout");
    check_usage_error({"--backoff-max", "0", "ws://h/"}, "--backoff-max");
    check_usage_error({"-t", "0", "ws://h/"}, "--duration");
    CHECK(accepted({"--ping-interval", "0", "ws://h/"}).feeds[0].connect.ping_interval == 0ms);
    // A zero floor would let a server that closes at once make wsgather spin.
    check_usage_error({"--backoff-min", "0", "ws://h/"}, "--backoff-min");
}

TEST_CASE("command line takes auto, zero or a coalescing time up to one second") {
    Options never = accepted({"--coalesce", "0", "ws://h/"});
    CHECK_FALSE(never.feeds[0].connect.coalesce_when_busy);
    CHECK(never.feeds[0].connect.coalesce == 0ms);
    CHECK(accepted({"--coalesce", "auto", "ws://h/"}).feeds[0].connect.coalesce_when_busy);
    CHECK(accepted({"--coalesce", "1s", "ws://h/"}).feeds[0].connect.coalesce == 1s);
    for (const char* bad : {"1001ms", "1m", "Auto", "2 ms", "-1ms"})
        check_usage_error({"--coalesce", bad, "ws://h/"},
                          std::string("invalid value '") + bad +
                              "' for --coalesce: use auto, 0 (never), or a duration up to 1s such as 2ms");
}

TEST_CASE("command line with a bad size is a usage error") {
    check_usage_error({"--max-message-size", "10XB", "ws://h/"}, "'10XB'");
    check_usage_error({"--max-message-size", "1.5B", "ws://h/"}, "'1.5B'");
    check_usage_error({"--max-message-size", "0", "ws://h/"}, "'0'");
    CHECK(accepted({"--max-message-size", "1", "ws://h/"}).feeds[0].connect.max_message_size == 1);
}

TEST_CASE("command line with a bad count is a usage error") {
    check_usage_error({"--buffer", "0", "ws://h/"}, "'0'");
    check_usage_error({"--buffer", "x", "ws://h/"}, "'x'");
    check_usage_error({"--count", "0", "ws://h/"}, "'0'");
    check_usage_error({"--count", "-1", "ws://h/"}, "'-1'");
    check_usage_error({"-n", "1.5", "ws://h/"}, "'1.5'");
    check_usage_error({"--max-retries", "x", "ws://h/"}, "'x'");
    check_usage_error({"--max-retries", "0", "ws://h/"}, "'0'");
    check_usage_error({"--threads", "0", "ws://h/"}, "invalid number '0' for --threads");
    check_usage_error({"--threads", "two", "ws://h/"}, "invalid number 'two' for --threads");
    check_usage_error({"--threads", "257", "ws://h/"}, "invalid number '257' for --threads: at most 256");
    CHECK(accepted({"--threads", "256", "ws://h/"}).run.threads == 256);
}

TEST_CASE("command line with an unknown format is a usage error") {
    check_usage_error({"--format", "xml", "ws://h/"}, "'xml'");
    check_usage_error({"--format", "JSONL", "ws://h/"}, "'JSONL'");
}

TEST_CASE("command line with a bad header is a usage error") {
    check_usage_error({"-H", "NoColon", "ws://h/"}, "'NoColon'");
    check_usage_error({"-H", "Bad Name: x", "ws://h/"}, "'Bad Name'");
    check_usage_error({"-H", ": x", "ws://h/"}, "': x'");
    check_usage_error({"-H", "A(b): x", "ws://h/"}, "'A(b)'");
}

TEST_CASE("command line refuses headers that belong to the handshake") {
    check_usage_error({"-H", "Sec-WebSocket-Protocol: x", "ws://h/"}, "Sec-WebSocket-Protocol: x");
    check_usage_error({"-H", "sec-websocket-extensions: permessage-deflate", "ws://h/"}, "sec-websocket-extensions");
    check_usage_error({"-H", "Sec-WebSocket-Key: abc", "ws://h/"}, "Sec-WebSocket-Key");
    check_usage_error({"-H", "Sec-WebSocket-Version: 13", "ws://h/"}, "Sec-WebSocket-Version");
    check_usage_error({"-H", "UPGRADE: websocket", "ws://h/"}, "UPGRADE");
    check_usage_error({"-H", "Connection: close", "ws://h/"}, "Connection");
}

TEST_CASE("command line with a bad subprotocol is a usage error") {
    check_usage_error({"--subprotocol", "a b", "ws://h/"}, "'a b'");
    check_usage_error({"--subprotocol", "a,b", "ws://h/"}, "'a,b'");
    check_usage_error({"--subprotocol", "", "ws://h/"}, "''");
}

TEST_CASE("command line with --key but no --cert is a usage error") {
    check_usage_error({"--key", "k.pem", "ws://h/"}, "'k.pem'");
}

TEST_CASE("command line with backoff-min above backoff-max is a usage error") {
    check_usage_error({"--backoff-min", "5s", "--backoff-max", "1s", "ws://h/"}, "5s");
    check_usage_error({"--backoff-min", "5s", "--backoff-max", "1s", "ws://h/"}, "1s");
    check_usage_error({"--backoff-min", "31s", "ws://h/"}, "31s");  // above the default max
    Options equal = accepted({"--backoff-min", "2s", "--backoff-max", "2s", "ws://h/"});
    CHECK(equal.feeds[0].reconnect.backoff_min == 2s);
    CHECK(equal.feeds[0].reconnect.backoff_max == 2s);
}

TEST_CASE("command line with both --quiet and --verbose is a usage error") {
    check_usage_error({"-q", "-v", "ws://h/"}, "--quiet");
    check_usage_error({"-qv", "ws://h/"}, "--verbose");
}

TEST_CASE("command line with an unknown option or a missing value is a usage error") {
    check_usage_error({"--nope", "ws://h/"}, "--nope");
    check_usage_error({"ws://h/", "-Z"}, "-Z");
    check_usage_error({"ws://h/", "--format"}, "--format");
    check_usage_error({"ws://h/", "-H"}, "--header");
}

// Regression: a bad value holding a line break must not break the
// one-line error; control characters are written as escapes.
TEST_CASE("command line errors stay on one line when the bad value holds a line break") {
    check_usage_error({"-H", "A: b\r\nEvil: 1", "ws://h/"}, "Evil");
    check_usage_error({"--subprotocol", "a\nb", "ws://h/"}, "--subprotocol");
    check_usage_error({"ws://h/\nx"}, "ws://h/");
}
