// --check: the run as it would start, printed as JSON in the config file's
// shape (docs/cli.md), with secrets hidden.
#pragma once

#include "settings.hpp"

#include <string>
#include <vector>

namespace wsgather {

// `feed_settings[i]` holds what feed i was given, for its `send` messages as
// written. Secret header values and URL passwords show as "***"; a `send`
// message that took a ${VAR} shows the ${VAR}, not the value.
std::string describe_run(const Options& options, const std::vector<Settings>& feed_settings);

}  // namespace wsgather
