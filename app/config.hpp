// The config file (--config): JSON with comments, read into the same
// Settings the command line gives, every ${VAR} replaced from the
// environment. Its shape is checked here; its values, with the command
// line's, in settings.cpp. Every error names the file and the JSON path.
#pragma once

#include "environment.hpp"
#include "settings.hpp"

#include <string>
#include <vector>

namespace wsgather {

struct ConfigFeed {
    FeedSpec spec;      // "url", and "name" when given
    Settings settings;  // the feed's own, laid over the defaults
    Origin origin;      // "feeds[2]", for errors about the feed as a whole
};

struct ConfigFile {
    Settings run;       // "output", "run", "log"
    Settings defaults;  // "defaults": every feed's, the command line's too
    std::vector<ConfigFeed> feeds;
};

// Throws UsageError for a file that cannot be read, is not JSON, has an
// unknown key (naming the likely one meant), a value of the wrong shape, or
// a ${VAR} that is unset and has no default.
ConfigFile read_config(const std::string& path, const Getenv& getenv);

// `text` with ${VAR} and ${VAR:-default} replaced; `origin` names it in errors.
std::string substitute_environment(std::string_view text, const Origin& origin, const Getenv& getenv);

// The known name closest to `unknown` (a typo, or '-' for '_'), or empty
// when none is close enough to suggest.
std::string closest_name(std::string_view unknown, const std::vector<std::string>& known);

}  // namespace wsgather
