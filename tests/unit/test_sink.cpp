// Sink: gathered blocking writes to a file or pipe.
#include "sink.hpp"
#include "temp_file.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace wsgather;
using wsgather::test::read_file;
using wsgather::test::TempPath;

namespace {

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
}

OutputOptions to_path(const std::string& path) {
    OutputOptions options;
    options.path = path;
    return options;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string all;
    for (const std::string& line : lines) all += line;
    return all;
}

// The lines as the pieces Sink::write takes.
std::error_code write_all(Sink& sink, const std::vector<std::string>& lines) {
    std::vector<std::string_view> pieces(lines.begin(), lines.end());
    return sink.write(pieces);
}

}  // namespace

TEST_CASE("sink writes more lines than one writev takes, in order") {
    static_assert(IOV_MAX == 1024);
    TempPath temp;
    std::vector<std::string> lines;
    for (int i = 0; i < 3 * IOV_MAX + 17; ++i) lines.push_back("line " + std::to_string(i) + "\n");
    {
        Sink sink(to_path(temp.path));
        CHECK(sink.name() == temp.path);
        CHECK_FALSE(write_all(sink, lines));
    }
    CHECK(read_file(temp.path) == joined(lines));
}

TEST_CASE("sink writes lines of 1 MiB") {
    TempPath temp;
    std::vector<std::string> lines;
    for (char c : {'x', 'y', 'z'}) lines.push_back(std::string(1u << 20, c) + "\n");
    {
        Sink sink(to_path(temp.path));
        CHECK_FALSE(write_all(sink, lines));
    }
    std::string content = read_file(temp.path);
    CHECK(content.size() == 3 * ((1u << 20) + 1));
    CHECK(content == joined(lines));
}

TEST_CASE("sink writes empty and non-empty lines alike") {
    TempPath temp;
    std::vector<std::string> lines{"", "a\n", "", "", "b\n", ""};
    {
        Sink sink(to_path(temp.path));
        CHECK_FALSE(write_all(sink, lines));
        CHECK_FALSE(write_all(sink, {}));
    }
    CHECK(read_file(temp.path) == "a\nb\n");
}

TEST_CASE("sink appends to an existing file") {
    TempPath temp;
    write_file(temp.path, "old line\n");
    {
        Sink sink(to_path(temp.path));
        CHECK_FALSE(write_all(sink, {"new 1\n", "new 2\n"}));
        CHECK_FALSE(write_all(sink, {"new 3\n"}));
    }
    {
        Sink again(to_path(temp.path));
        CHECK_FALSE(write_all(again, {"new 4\n"}));
    }
    CHECK(read_file(temp.path) == "old line\nnew 1\nnew 2\nnew 3\nnew 4\n");
}

TEST_CASE("sink creates a missing file with mode 0644") {
    TempPath temp;
    mode_t previous = ::umask(022);  // the mode asked for, as a usual umask leaves it
    {
        Sink sink(to_path(temp.path));
        CHECK_FALSE(write_all(sink, {"x\n"}));
    }
    ::umask(previous);
    struct stat st {};
    REQUIRE(::stat(temp.path.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(read_file(temp.path) == "x\n");
}

TEST_CASE("sink without a path is standard output") {
    Sink sink(OutputOptions{});
    CHECK(sink.name() == "standard output");
}

TEST_CASE("sink in a missing directory throws SinkError naming the path") {
    const std::string path = "/nonexistent-wsgather-dir/sub/out.jsonl";
    try {
        Sink sink(to_path(path));
        FAIL("opened " << path);
    } catch (const SinkError& e) {
        std::string message = e.what();
        CAPTURE(message);
        CHECK(message.find("'" + path + "'") != std::string::npos);
        CHECK(message.find("No such file or directory") != std::string::npos);
    }
}

TEST_CASE("sink writing to a pipe without a reader returns EPIPE") {
    ::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    // Opened while the read end still exists: opening a pipe with no reader blocks.
    Sink sink(to_path("/dev/fd/" + std::to_string(fds[1])));
    ::close(fds[0]);
    ::close(fds[1]);
    std::error_code ec = write_all(sink, {"a\n"});
    CHECK(ec == std::errc::broken_pipe);
    CHECK(ec.value() == EPIPE);
}

TEST_CASE("sink writes everything through a pipe that fills up") {
    // 4 MiB is far more than a pipe holds: writev blocks until the reader
    // catches up, and the bytes arrive complete and in order.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::vector<std::string> lines;
    for (int i = 0; i < 4; ++i) lines.push_back(std::string((1u << 20) - 1, static_cast<char>('a' + i)) + "\n");
    for (int i = 0; i < 2000; ++i) lines.push_back(std::to_string(i) + "\n");

    std::string received;
    std::thread reader([&] {
        char buffer[65536];
        for (;;) {
            ssize_t n = ::read(fds[0], buffer, sizeof buffer);
            if (n <= 0) break;
            received.append(buffer, static_cast<std::size_t>(n));
        }
    });
    std::error_code ec;
    {
        Sink sink(to_path("/dev/fd/" + std::to_string(fds[1])));
        ::close(fds[1]);
        ec = write_all(sink, lines);
    }  // the sink's descriptor was the last write end: the reader sees EOF
    reader.join();
    ::close(fds[0]);
    CHECK_FALSE(ec);
    CHECK(received.size() == joined(lines).size());
    CHECK(received == joined(lines));
}
