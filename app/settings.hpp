// Settings as the user gave them, before they are checked: from the command
// line or from a config file, in one form keyed by the config file's names
// ("ping_interval", "reconnect.min"). Both front ends fill it; one set of
// checks turns it into Options, so a value means the same wherever it is
// written, and each error names the place it was written.
#pragma once

#include "options.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wsgather {

// Thrown for the first bad value; becomes exit status 2 and one line.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Where a value was written: an option ("--ping-interval"), or a config file
// and the JSON path in it ("feeds[2].ping_interval").
struct Origin {
    std::string file;   // empty: the command line
    std::string where;
};

// Throws UsageError; a config file's name goes in front of the message.
[[noreturn]] void fail(const Origin& origin, const std::string& message);

// A file name, given where `origin` says: an empty one is refused.
void check_file_name(std::string_view path, const Origin& origin);

using Json = nlohmann::ordered_json;  // objects keep the file's order

struct Setting {
    Setting() = default;
    Setting(Json value, Origin origin, std::size_t order = 0)
        : value(std::move(value)), origin(std::move(origin)), order(order) {}

    Json value;  // text from the command line; any JSON from a file
    Origin origin;
    std::size_t order = 0;  // headers go out in the order they were given
    // The value as written, where that differs from `value`: in a file,
    // before ${VAR} was replaced (--check prints `send` messages so, keeping
    // tokens from the environment out of sight); on the command line, an -H
    // argument before it was split, for its errors. Null otherwise.
    Json as_written;
};

using Settings = std::map<std::string, Setting, std::less<>>;

// Headers and secret header names are keyed one by one: "headers.<name in
// lower case>" holds ["Name", "value"] (a null value removes the header),
// "secret_headers.<name in lower case>" holds "Name". So a name is set once,
// a later layer replaces it whatever its case, and each error names the
// place the name was written.
std::string item_key(std::string_view list, std::string_view name);

// One setting: its config key, the command-line option that sets it, and
// whether it belongs to a feed (defaults, each feed) or to the whole run.
struct SettingKey {
    std::string_view key;
    std::string_view option;
    bool per_feed;
};

// Every setting, in the order docs/cli.md lists them.
std::span<const SettingKey> setting_keys();

// The value of `key`, or null when it was not given (or given as null).
const Setting* find(const Settings& settings, std::string_view key);

// Sets `into` from `over` key by key: `over` wins. A header that `into`
// has keeps its place; new ones follow.
void override_settings(Settings& into, const Settings& over);

// The feed's settings checked, on top of the built-in defaults.
FeedOptions feed_options(FeedSpec spec, const Settings& settings);

// The run's settings (output, limits, logging) checked into `options`.
void apply_run_settings(const Settings& settings, Options& options);

// --overflow's word for a policy: block, drop-oldest, drop-newest.
std::string_view overflow_name(Overflow policy);

// RFC 9110 token characters, the only ones allowed in a header name or a
// subprotocol.
bool is_token(std::string_view text);

}  // namespace wsgather
