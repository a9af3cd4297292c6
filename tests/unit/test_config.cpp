// The config file: its shape, ${VAR}, how it layers with the command line,
// and the errors that name the file and the JSON path.
#include "cli.hpp"
#include "config.hpp"
#include "temp_file.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace wsgather;
using namespace std::chrono_literals;

namespace {

// A config file with `text` in it, removed at the end.
struct ConfigText {
    test::TempPath file;
    explicit ConfigText(const std::string& text) { std::ofstream(file.path) << text; }
};

CommandLine parse(std::vector<std::string> arguments) {
    std::vector<const char*> argv{"wsgather"};
    for (const std::string& a : arguments) argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

Options accepted(const std::string& config, std::vector<std::string> more = {}) {
    ConfigText file(config);
    more.insert(more.begin(), {"-c", file.file.path});
    CommandLine result = parse(more);
    CAPTURE(result.error);
    REQUIRE(result.options.has_value());
    return *result.options;
}

// The one-line error for `config`, without the file name in front.
std::string refused(const std::string& config, std::vector<std::string> more = {}) {
    ConfigText file(config);
    more.insert(more.begin(), {"-c", file.file.path});
    CommandLine result = parse(more);
    CHECK_FALSE(result.options.has_value());
    CHECK(result.exit_status == 2);
    CHECK(result.error.find('\n') == std::string::npos);
    std::string prefix = file.file.path + ": ";
    if (result.error.starts_with(prefix)) return result.error.substr(prefix.size());
    return result.error;
}

std::string substituted(std::string_view text, const std::map<std::string, std::string>& environment) {
    return substitute_environment(text, Origin{"f.json", "feeds[0].url"}, [&](const char* name) -> const char* {
        auto it = environment.find(name);
        return it == environment.end() ? nullptr : it->second.c_str();
    });
}

}  // namespace

TEST_CASE("config: ${VAR} and ${VAR:-default} are replaced, $${ is a literal") {
    std::map<std::string, std::string> env{{"HOST", "h.example"}, {"EMPTY", ""}, {"_X1", "x"}};
    CHECK(substituted("wss://${HOST}/ws", env) == "wss://h.example/ws");
    CHECK(substituted("${HOST}${_X1}", env) == "h.examplex");
    CHECK(substituted("${MISSING:-fallback}", env) == "fallback");
    CHECK(substituted("${EMPTY:-fallback}", env) == "fallback");  // as in the shell
    CHECK(substituted("${EMPTY}", env) == "");
    CHECK(substituted("${MISSING:-}", env) == "");
    CHECK(substituted("cost $5 and $${HOST}", env) == "cost $5 and ${HOST}");
    CHECK(substituted("no variables", env) == "no variables");
}

TEST_CASE("config: a bad ${...} is an error naming the path and the variable") {
    std::map<std::string, std::string> env;
    auto error = [&](std::string_view text) {
        try {
            substituted(text, env);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string("(accepted)");
    };
    CHECK(error("${TOKEN}") == "f.json: feeds[0].url: environment variable TOKEN is not set (set it, or give a "
                               "default with ${TOKEN:-default})");
    CHECK(error("a ${TOKEN") == "f.json: feeds[0].url: '${' without a closing '}' (write $${ for a literal ${)");
    CHECK(error("${1X}") == "f.json: feeds[0].url: invalid variable name '1X' in '${1X}'");
    CHECK(error("${A B}") == "f.json: feeds[0].url: invalid variable name 'A B' in '${A B}'");
    CHECK(error("${}") == "f.json: feeds[0].url: invalid variable name '' in '${}'");
}

TEST_CASE("config: the suggestion for an unknown key is a close known one, or none") {
    std::vector<std::string> known{"url", "name", "ping_interval", "ping_timeout", "headers", "send"};
    CHECK(closest_name("ping_intervall", known) == "ping_interval");
    CHECK(closest_name("ping-timeout", known) == "ping_timeout");
    CHECK(closest_name("hedaers", known) == "headers");
    CHECK(closest_name("ur", known) == "url");
    CHECK(closest_name("sned", known) == "send");
    CHECK(closest_name("colour", known) == "");
    CHECK(closest_name("x", known) == "");
}

TEST_CASE("config: feeds, defaults, comments and every nested key are read") {
    Options o = accepted(R"({
        // comments of both kinds are allowed
        "defaults": {"ping_interval": "5s", "headers": {"X-Team": "ops"}, "reconnect": {"max": "10s"}},
        "feeds": [
            {"name": "trades", "url": "wss://h/trades", "send": [{"op": "sub", "ch": ["a", 1]}, "text"],
             "heartbeat": {"text": "ping", "interval": "2s"}, "subprotocols": ["v1"],
             "tls": {"insecure": true}, "reconnect": {"min": 0.25, "max_retries": 3}, "compress": true},
            /* the name comes from the URL */
            {"url": "ws://h:9000/quotes", "ping_interval": 0, "max_message_size": 1024, "coalesce": "2ms"}
        ],
        "output": {"format": "raw", "buffer": 64},
        "run": {"count": 10, "duration": "1m", "threads": 2},
        "log": "quiet"
    })");
    REQUIRE(o.feeds.size() == 2);
    const FeedOptions& trades = o.feeds[0];
    CHECK(trades.spec.name == "trades");
    CHECK(trades.spec.tls);
    CHECK(trades.connect.send == std::vector<std::string>{R"({"op":"sub","ch":["a",1]})", "text"});
    CHECK(trades.connect.heartbeat == "ping");
    CHECK(trades.connect.heartbeat_interval == 2s);
    CHECK(trades.connect.subprotocols == std::vector<std::string>{"v1"});
    CHECK(trades.connect.ping_interval == 5s);
    CHECK(trades.connect.compress);
    REQUIRE(trades.connect.headers.size() == 1);
    CHECK(trades.connect.headers[0].name == "X-Team");
    CHECK(trades.tls.insecure);
    CHECK(trades.reconnect.backoff_min == 250ms);
    CHECK(trades.reconnect.backoff_max == 10s);
    CHECK(trades.reconnect.max_retries == 3);
    const FeedOptions& quotes = o.feeds[1];
    CHECK(quotes.spec.name == "h:9000/quotes");
    CHECK(quotes.connect.ping_interval == 0ms);
    CHECK(quotes.connect.max_message_size == 1024);
    CHECK_FALSE(quotes.connect.coalesce_when_busy);
    CHECK(quotes.connect.coalesce == 2ms);
    CHECK(quotes.connect.heartbeat.empty());
    CHECK_FALSE(quotes.tls.insecure);
    CHECK(quotes.reconnect.max_retries == 0);
    CHECK(o.output.format == Format::raw);
    CHECK(o.output.buffer == 64);
    CHECK(o.run.count == 10);
    CHECK(o.run.duration == 60s);
    CHECK(o.run.threads == 2);
    CHECK(o.verbosity == Verbosity::quiet);
}

TEST_CASE("config: the command line overrides defaults, a feed's own keys override both") {
    const char* config = R"({
        "defaults": {"ping_interval": "5s", "ping_timeout": "7s", "headers": {"X-A": "file", "X-B": "file"}},
        "feeds": [{"name": "own", "url": "ws://h/1", "ping_interval": "9s", "headers": {"x-b": "feed"}},
                  {"name": "plain", "url": "ws://h/2"}],
        "output": {"buffer": 64}
    })";
    Options o = accepted(config, {"--ping-interval", "3s", "-H", "X-A: cli", "--buffer", "32", "cli=ws://h/3"});
    REQUIRE(o.feeds.size() == 3);
    auto headers = [](const FeedOptions& f) {
        std::vector<std::string> all;
        for (const Header& h : f.connect.headers) all.push_back(h.name + ": " + h.value);
        return all;
    };
    CHECK(o.feeds[0].connect.ping_interval == 9s);
    CHECK(o.feeds[1].connect.ping_interval == 3s);
    CHECK(o.feeds[2].connect.ping_interval == 3s);
    for (const FeedOptions& f : o.feeds) CHECK(f.connect.ping_timeout == 7s);
    CHECK(headers(o.feeds[0]) == std::vector<std::string>{"X-A: cli", "x-b: feed"});
    CHECK(headers(o.feeds[1]) == std::vector<std::string>{"X-A: cli", "X-B: file"});
    CHECK(o.feeds[2].spec.name == "cli");
    CHECK(headers(o.feeds[2]) == headers(o.feeds[1]));
    CHECK(o.output.buffer == 32);
}

TEST_CASE("config: null is the built-in default, secret header names add up") {
    Options o = accepted(R"({
        "defaults": {"ping_interval": "5s", "secret_headers": ["X-Key"], "reconnect": {"max_retries": 4}},
        "feeds": [{"url": "ws://h/", "ping_interval": null, "secret_headers": ["X-Other"],
                   "reconnect": {"max_retries": null}}],
        "run": {"count": null}
    })", {"--secret-header", "X-Cli"});
    CHECK(o.feeds[0].connect.ping_interval == 20s);
    CHECK(o.feeds[0].reconnect.max_retries == 0);
    CHECK(o.feeds[0].connect.secret_headers == std::vector<std::string>{"X-Key", "X-Cli", "X-Other"});
    CHECK(o.run.count == 0);
}

TEST_CASE("config: a file with no feeds needs URLs on the command line") {
    Options o = accepted(R"({"defaults": {"send": ["hello"]}})", {"ws://h/a"});
    REQUIRE(o.feeds.size() == 1);
    CHECK(o.feeds[0].connect.send == std::vector<std::string>{"hello"});
    CHECK(refused(R"({"feeds": []})") == R"(no feeds: list them in "feeds", or give URLs on the command line)");
}

TEST_CASE("config: errors name the JSON path and the problem") {
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "ping_intervall": "1s"}]})") ==
          "unknown key 'ping_intervall' in feeds[0]: did you mean 'ping_interval'?");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "ca_file": "x"}]})") ==
          "unknown key 'ca_file' in feeds[0]: did you mean 'tls.ca_file'?");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "tls": {"insecure": true, "verify": false}}]})") ==
          "unknown key 'verify' in feeds[0].tls: known keys are ca_file, cert, key, insecure");
    CHECK(refused(R"({"ping_interval": "1s", "feeds": []})") ==
          "unknown key 'ping_interval' at the top level: 'ping_interval' is a feed setting: put it in \"defaults\" "
          "or in a feed");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "format": "raw"}]})") ==
          "unknown key 'format' in feeds[0]: 'output.format' applies to the whole run: put it at the top level");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/"}, {"url": "ws://h/2", "ping_timeout": "soon"}]})") ==
          "invalid duration 'soon' for feeds[1].ping_timeout: use a number with ms, s, m or h, such as 250ms, 10s, "
          "5m, 1h, or plain seconds");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "compress": "yes"}]})") ==
          "invalid value \"yes\" for feeds[0].compress: use true or false");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "reconnect": 3}]})") ==
          "feeds[0].reconnect: expected an object, not number");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "headers": {"X-A": 1}}]})") ==
          "invalid header value 1 for feeds[0].headers.X-A: expected a string");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "headers": {"Upgrade": "x"}}]})") ==
          "invalid header 'Upgrade: x' for feeds[0].headers.Upgrade: Upgrade cannot be set this way (wsgather "
          "sets it)");
    CHECK(refused(R"({"feeds": [{"url": "ws://h:80:90/"}]})") == "feeds[0].url: invalid URL 'ws://h:80:90/': bad port '80:90'");
    CHECK(refused(R"({"feeds": [{"name": "a"}]})") == "feeds[0]: no \"url\" given");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "name": "a b"}]})") ==
          "feeds[0].name: invalid feed name \"a b\": a name must be a non-empty string, without spaces or control "
          "characters");
    CHECK(refused(R"({"feeds": {"url": "ws://h/"}})") == "feeds: expected a list of feeds, not object");
    CHECK(refused(R"({"feeds": ["ws://h/"]})") == "feeds[0]: expected an object with a \"url\", not string");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "url": "ws://h/2"}]})") ==
          "duplicate key 'url' in feeds[0]: each key may appear once");
    CHECK(refused("{\"feeds\": [\n  {\"url\": \"ws://h/\",}\n]}") ==
          "invalid JSON at line 2, column 21: syntax error while parsing object key - unexpected '}'; expected "
          "string literal");
    CHECK(refused(R"(["ws://h/"])") == "expected a JSON object at the top level");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "reconnect": {"min": "2s", "max": "1s"}}]})") ==
          "feeds[0].reconnect.min 2s is more than feeds[0].reconnect.max 1s");
    CHECK(refused(R"({"feeds": [{"url": "ws://h/", "tls": {"key": "k.pem"}}]})") ==
          "feeds[0].tls.key 'k.pem' needs a client certificate: add tls.cert");
    CHECK(refused(R"({"log": "loud", "feeds": [{"url": "ws://h/"}]})") ==
          "invalid log level 'loud' for log: use quiet, normal or verbose");
}

TEST_CASE("config: feed names are unique across the file and the command line") {
    CHECK(refused(R"({"feeds": [{"url": "ws://h/a"}, {"url": "ws://h/b", "name": "h/a"}]})")
              .starts_with("duplicate feed name 'h/a' (for feeds[0] in "));
    std::string both = refused(R"({"feeds": [{"url": "ws://h/a"}]})", {"ws://h/a"});
    CHECK(both.starts_with("duplicate feed name 'h/a' (for feeds[0] in "));
    CHECK(both.ends_with(" and 'ws://h/a'): give each feed its own name"));
}

TEST_CASE("config: an unreadable file is a usage error naming it") {
    CommandLine missing = parse({"-c", "/nonexistent/wsgather.json"});
    CHECK(missing.exit_status == 2);
    CHECK(missing.error == "cannot read config file '/nonexistent/wsgather.json': No such file or directory");
    CommandLine directory = parse({"-c", "/tmp"});
    CHECK(directory.exit_status == 2);
    CHECK(directory.error == "cannot read config file '/tmp': Is a directory");
    CommandLine empty = parse({"--config=", "ws://h/"});
    CHECK(empty.exit_status == 2);
    CHECK(empty.error == "invalid file '' for --config: give a file name");
}

TEST_CASE("config: --check prints the resolved run with secrets hidden") {
    ::setenv("WSGATHER_UNIT_TOKEN", "s3cret", 1);
    ConfigText file(R"({"feeds": [{"name": "a", "url": "wss://u:pw@h/x",
        "headers": {"Authorization": "Bearer ${WSGATHER_UNIT_TOKEN}", "X-Key": "k", "X-Plain": "p"},
        "secret_headers": ["X-Key"], "send": [{"token": "${WSGATHER_UNIT_TOKEN}"}, "hi"]}]})");
    CommandLine result = parse({"-c", file.file.path, "--check", "-n", "5"});
    ::unsetenv("WSGATHER_UNIT_TOKEN");
    CAPTURE(result.error);
    CHECK_FALSE(result.options.has_value());
    CHECK(result.exit_status == 0);
    CHECK(result.out.find("s3cret") == std::string::npos);
    CHECK(result.out.find("pw") == std::string::npos);
    Json run = Json::parse(result.out);
    const Json& feed = run["feeds"][0];
    CHECK(feed["name"] == "a");
    CHECK(feed["url"] == "wss://u:***@h/x");
    CHECK(feed["headers"] == Json{{"Authorization", "***"}, {"X-Key", "***"}, {"X-Plain", "p"}});
    CHECK(feed["send"] == Json::array({Json{{"token", "${WSGATHER_UNIT_TOKEN}"}}, "hi"}));
    CHECK(feed["reconnect"] == Json{{"enabled", true}, {"min", "500ms"}, {"max", "30s"}, {"max_retries", nullptr}});
    CHECK(run["run"] == Json{{"count", 5}, {"duration", nullptr}, {"threads", 1}, {"stats", nullptr}});
    CHECK(run["output"] == Json{{"format", "jsonl"},
                                {"file", Json::array()},
                                {"per_feed_dir", nullptr},
                                {"rotate", {{"size", nullptr}, {"interval", nullptr}, {"compress", false}}},
                                {"buffer", 1024},
                                {"overflow", "block"},
                                {"events", false}});
    CHECK(run["log"] == "normal");
}

TEST_CASE("config: --check output reads back as a config file") {
    ConfigText first(R"({"defaults": {"ping_interval": "3s"}, "feeds": [{"url": "ws://h/", "heartbeat": {"text": "p"}}],
                        "run": {"duration": "90s"}})");
    CommandLine printed = parse({"-c", first.file.path, "--check"});
    REQUIRE(printed.exit_status == 0);
    ConfigText second(printed.out);
    CommandLine again = parse({"-c", second.file.path, "--check"});
    CAPTURE(again.error);
    CHECK(again.exit_status == 0);
    CHECK(again.out == printed.out);
}
