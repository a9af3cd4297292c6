// Temporary files for the unit tests that write output.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace wsgather::test {

// A fresh path in /tmp that does not exist yet; removed at the end.
struct TempPath {
    std::string path;
    TempPath() {
        std::string pattern = "/tmp/wsgather-unit-XXXXXX";
        int fd = ::mkstemp(pattern.data());
        REQUIRE(fd >= 0);
        ::close(fd);
        ::unlink(pattern.c_str());
        path = pattern;
    }
    ~TempPath() { ::unlink(path.c_str()); }
    TempPath(const TempPath&) = delete;
    TempPath& operator=(const TempPath&) = delete;
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

inline void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
}

}  // namespace wsgather::test
