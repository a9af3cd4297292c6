#include "config.hpp"

#include "feed_url.hpp"
#include "log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <memory>
#include <set>

namespace wsgather {
namespace {

std::string child_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::vector<std::string> keys_where(bool per_feed) {
    std::vector<std::string> leaves;
    for (const SettingKey& k : setting_keys())
        if (k.per_feed == per_feed) leaves.emplace_back(k.key);
    return leaves;
}

bool is_variable_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// One file's reading: the JSON is parsed, its strings substituted, and its
// keys checked against the leaves each place may hold.
class Reader {
public:
    Reader(std::string file, const Getenv& getenv) : file_(std::move(file)), getenv_(getenv) {}

    ConfigFile read(const std::string& text) {
        Json written = parse(text);
        if (!written.is_object()) fail(Origin{file_, ""}, "expected a JSON object at the top level");
        Json doc = written;
        substitute(doc, "");

        ConfigFile config;
        std::vector<std::string> top = keys_where(false);
        top.insert(top.end(), {"defaults", "feeds"});
        flatten(doc, written, "", "", top, config.run);

        std::vector<std::string> per_feed = keys_where(true);
        if (auto it = config.run.find("defaults"); it != config.run.end()) {
            Setting defaults = std::move(it->second);
            config.run.erase(it);
            expect_object(defaults, "an object of settings for every feed");
            flatten(defaults.value, written_of(defaults), "defaults", "", per_feed, config.defaults);
        }
        if (auto it = config.run.find("feeds"); it != config.run.end()) {
            Setting feeds = std::move(it->second);
            config.run.erase(it);
            if (!feeds.value.is_array())
                fail(feeds.origin, fmt::format("feeds: expected a list of feeds, not {}", feeds.value.type_name()));
            std::vector<std::string> feed_keys = per_feed;
            feed_keys.insert(feed_keys.end(), {"name", "url"});
            const Json& feeds_written = written_of(feeds);
            for (std::size_t i = 0; i < feeds.value.size(); ++i)
                config.feeds.push_back(read_feed(feeds.value[i], feeds_written[i], fmt::format("feeds[{}]", i), feed_keys));
        }
        return config;
    }

private:
    Json parse(const std::string& text) {
        // The parser keeps the last of two equal keys without a word: here
        // the second is an error, as an unknown key is. The path to the
        // place being parsed is kept for the message.
        struct Open {
            bool array;
            std::set<std::string> keys;  // an object's, so far
            std::string path;            // the container's own
            std::string key;             // an object's current key
            std::size_t items = 0;       // an array's, so far
        };
        std::vector<Open> open;
        auto path_here = [&open]() {
            if (open.empty()) return std::string();
            const Open& top = open.back();
            if (top.array) return fmt::format("{}[{}]", top.path, top.items - 1);
            return child_path(top.path, top.key);
        };
        Json::parser_callback_t note_duplicates = [&](int, nlohmann::json::parse_event_t event, Json& parsed) {
            using event_t = nlohmann::json::parse_event_t;
            bool starts_value = event == event_t::object_start || event == event_t::array_start || event == event_t::value;
            if (starts_value && !open.empty() && open.back().array) ++open.back().items;
            if (event == event_t::object_start || event == event_t::array_start)
                open.push_back(Open{event == event_t::array_start, {}, path_here(), {}, 0});
            if (event == event_t::object_end || event == event_t::array_end) open.pop_back();
            if (event == event_t::key) {
                std::string key = parsed.get<std::string>();
                if (!open.back().keys.insert(key).second)
                    fail(Origin{file_, ""}, fmt::format("duplicate key '{}' {}: each key may appear once",
                                                        log::one_line(key),
                                                        open.back().path.empty() ? "at the top level"
                                                                                 : "in " + open.back().path));
                open.back().key = key;
            }
            return true;
        };
        try {
            return Json::parse(text, note_duplicates, true, /*ignore_comments=*/true);
        } catch (const Json::parse_error& e) {
            // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
            std::string what = e.what();
            auto at = what.find("at line");
            fail(Origin{file_, ""}, log::one_line(fmt::format(
                                        "invalid JSON {}", at == std::string::npos ? what : what.substr(at))));
        }
    }

    void substitute(Json& value, const std::string& path) {
        if (value.is_string())
            value = substitute_environment(value.get_ref<const std::string&>(), Origin{file_, path}, getenv_);
        else if (value.is_object())
            for (auto item : value.items()) substitute(item.value(), child_path(path, item.key()));
        else if (value.is_array())
            for (std::size_t i = 0; i < value.size(); ++i) substitute(value[i], fmt::format("{}[{}]", path, i));
    }

    // The JSON at `object` (JSON path `path`, setting keys `prefix`...) into
    // `into`; `leaves` are the keys this place may hold.
    void flatten(const Json& object, const Json& written, const std::string& path, const std::string& prefix,
                 const std::vector<std::string>& leaves, Settings& into) {
        for (const auto& item : object.items()) {
            const std::string& key = item.key();
            const Json& value = item.value();
            const Json& value_written = written.at(key);
            std::string full = prefix + key;
            std::string where = child_path(path, key);
            bool leaf = std::find(leaves.begin(), leaves.end(), full) != leaves.end();
            if (leaf && full == "headers") {
                if (value.is_null()) continue;  // adds none; {"X-Name": null} removes one
                expect_object(Setting{value, Origin{file_, where}}, "an object of header names and values");
                for (const auto& header : value.items())
                    into[item_key("headers", header.key())] = Setting{Json::array({header.key(), header.value()}),
                                                                      Origin{file_, child_path(where, header.key())},
                                                                      next_order_++};
            } else if (leaf && full == "secret_headers") {
                if (value.is_null()) continue;
                Json names = value.is_string() ? Json::array({value}) : value;
                if (!names.is_array())
                    fail(Origin{file_, where}, fmt::format("{}: expected a list of header names, not {}", where,
                                                           value.type_name()));
                for (std::size_t i = 0; i < names.size(); ++i) {
                    Origin origin{file_, value.is_array() ? fmt::format("{}[{}]", where, i) : where};
                    if (!names[i].is_string())
                        fail(origin, fmt::format("{}: expected a header name, not {}", origin.where, names[i].dump()));
                    into[item_key("secret_headers", names[i].get<std::string>())] =
                        Setting{names[i], origin, next_order_++};
                }
            } else if (leaf) {
                Setting& setting = into[full] = Setting{value, Origin{file_, where}};
                if (value != value_written) setting.as_written = value_written;
            } else if (std::any_of(leaves.begin(), leaves.end(),
                                   [&](const std::string& l) { return l.starts_with(full + "."); })) {
                // null for a group: each of its settings back to the built-in default.
                if (value.is_null()) {
                    for (const std::string& l : leaves)
                        if (l.starts_with(full + ".")) into[l] = Setting{Json(), Origin{file_, where}};
                    continue;
                }
                expect_object(Setting{value, Origin{file_, where}}, "an object");
                flatten(value, value_written, where, full + ".", leaves, into);
            } else {
                unknown_key(key, path, prefix, leaves);
            }
        }
    }

    ConfigFeed read_feed(const Json& entry, const Json& written, const std::string& path,
                         const std::vector<std::string>& feed_keys) {
        ConfigFeed feed;
        feed.origin = Origin{file_, path};
        if (!entry.is_object())
            fail(feed.origin, fmt::format("{}: expected an object with a \"url\", not {}", path, entry.type_name()));
        flatten(entry, written, path, "", feed_keys, feed.settings);
        auto url = feed.settings.find("url");
        if (url == feed.settings.end()) fail(feed.origin, fmt::format("{}: no \"url\" given", path));
        if (!url->second.value.is_string())
            fail(url->second.origin, fmt::format("{}.url: expected a ws:// or wss:// URL as a string", path));
        try {
            feed.spec = parse_feed_url(url->second.value.get<std::string>());
        } catch (const FeedUrlError& e) {
            fail(url->second.origin, fmt::format("{}.url: {}", path, e.what()));
        }
        feed.settings.erase(url);
        if (auto name = feed.settings.find("name"); name != feed.settings.end()) {
            const Json& value = name->second.value;
            if (!value.is_string() || !valid_feed_name(value.get<std::string>()))
                fail(name->second.origin, fmt::format("{}.name: invalid feed name {}: a name must be a non-empty "
                                                      "string, without spaces or control characters", path,
                                                      value.dump()));
            feed.spec.name = value.get<std::string>();
            feed.settings.erase(name);
        }
        return feed;
    }

    const Json& written_of(const Setting& setting) {
        return setting.as_written.is_null() ? setting.value : setting.as_written;
    }

    void expect_object(const Setting& setting, std::string_view what) {
        if (!setting.value.is_object())
            fail(setting.origin, fmt::format("{}: expected {}, not {}", setting.origin.where, what,
                                             setting.value.type_name()));
    }

    [[noreturn]] void unknown_key(const std::string& key, const std::string& path, const std::string& prefix,
                                  const std::vector<std::string>& leaves) {
        // The names this object may hold, and every leaf below it by its
        // last name, so that "ca_file" finds "tls.ca_file".
        std::vector<std::string> here;
        std::string suggestion;
        for (const std::string& leaf : leaves) {
            if (!leaf.starts_with(prefix)) continue;
            std::string rest = leaf.substr(prefix.size());
            std::string name = rest.substr(0, rest.find('.'));
            if (std::find(here.begin(), here.end(), name) == here.end()) here.push_back(name);
            if (rest.ends_with("." + key)) suggestion = rest;
        }
        if (suggestion.empty()) suggestion = closest_name(key, here);
        std::string place = path.empty() ? "at the top level" : "in " + path;
        std::string hint = fmt::format("known keys are {}", fmt::join(here, ", "));
        if (!suggestion.empty()) {
            hint = fmt::format("did you mean '{}'?", suggestion);
        } else if (prefix.empty()) {
            // A feed's setting at the top level, or the run's inside a feed.
            for (const std::string& leaf : keys_where(path.empty()))
                if (leaf == key || leaf.starts_with(key + ".") || leaf.ends_with("." + key)) {
                    std::string_view name = leaf.ends_with("." + key) ? std::string_view(leaf) : key;
                    hint = path.empty() ? fmt::format("'{}' is a feed setting: put it in \"defaults\" or in a feed", name)
                                        : fmt::format("'{}' applies to the whole run: put it at the top level", name);
                }
        }
        fail(Origin{file_, path}, fmt::format("unknown key '{}' {}: {}", log::one_line(key), place, hint));
    }

    std::string file_;
    const Getenv& getenv_;
    std::size_t next_order_ = 0;
};

}  // namespace

std::string closest_name(std::string_view unknown, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_distance = 3;  // more than two edits is another word
    for (const std::string& name : known) {
        std::size_t distance = edit_distance(unknown, name);
        if (distance < best_distance && distance <= name.size() / 2) {
            best = name;
            best_distance = distance;
        }
    }
    return best;
}

std::string substitute_environment(std::string_view text, const Origin& origin, const Getenv& getenv) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i, 3) == "$${") {  // a literal "${"
            out += "${";
            i += 3;
            continue;
        }
        if (text.substr(i, 2) != "${") {
            out += text[i++];
            continue;
        }
        auto close = text.find('}', i + 2);
        if (close == std::string_view::npos)
            fail(origin, fmt::format("{}: '${{' without a closing '}}' (write $${{ for a literal ${{)", origin.where));
        std::string_view expression = text.substr(i + 2, close - i - 2);
        auto dash = expression.find(":-");
        std::string name(expression.substr(0, dash));
        if (!is_variable_name(name))
            fail(origin, fmt::format("{}: invalid variable name '{}' in '${{{}}}'", origin.where, log::one_line(name),
                                     log::one_line(expression)));
        const char* value = getenv(name.c_str());
        if (dash != std::string_view::npos) {
            // As in the shell, ":-" also stands in for a variable set but empty.
            out += value && *value ? std::string_view(value) : expression.substr(dash + 2);
        } else if (!value) {
            fail(origin, fmt::format("{}: environment variable {} is not set (set it, or give a default with "
                                     "${{{}:-default}})", origin.where, name, name));
        } else {
            out += value;
        }
        i = close + 1;
    }
    return out;
}

ConfigFile read_config(const std::string& path, const Getenv& getenv) {
    auto cannot_read = [&path](int error) {
        fail(Origin{}, fmt::format("cannot read config file '{}': {}", path, std::strerror(error)));
    };
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) cannot_read(errno);
    std::string text;
    char chunk[65536];
    while (std::size_t n = std::fread(chunk, 1, sizeof chunk, file.get())) text.append(chunk, n);
    if (std::ferror(file.get())) cannot_read(errno);  // a directory: EISDIR
    return Reader(path, getenv).read(text);
}

}  // namespace wsgather
