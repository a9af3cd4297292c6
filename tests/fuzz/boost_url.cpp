// Boost.URL compiled here rather than linked from Debian's shared library,
// so that its parser is instrumented too and guides fuzz_feed_url and
// fuzz_command_line through the URL grammar.
#include <boost/url/src.hpp>
