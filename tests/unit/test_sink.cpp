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
using wsgather::test::write_file;

namespace {

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
        Sink sink(temp.path);
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
        Sink sink(temp.path);
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
        Sink sink(temp.path);
        CHECK_FALSE(write_all(sink, lines));
        CHECK_FALSE(write_all(sink, {}));
    }
    CHECK(read_file(temp.path) == "a\nb\n");
}

TEST_CASE("sink appends to an existing file") {
    TempPath temp;
    write_file(temp.path, "old line\n");
    {
        Sink sink(temp.path);
        CHECK_FALSE(write_all(sink, {"new 1\n", "new 2\n"}));
        CHECK_FALSE(write_all(sink, {"new 3\n"}));
    }
    {
        Sink again(temp.path);
        CHECK_FALSE(write_all(again, {"new 4\n"}));
    }
    CHECK(read_file(temp.path) == "old line\nnew 1\nnew 2\nnew 3\nnew 4\n");
}

TEST_CASE("sink creates a missing file with mode 0644") {
    TempPath temp;
    mode_t previous = ::umask(022);  // the mode asked for, as a usual umask leaves it
    {
        Sink sink(temp.path);
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
    Sink sink("-");
    CHECK(sink.name() == "standard output");
}

TEST_CASE("sink in a missing directory throws SinkError naming the path") {
    const std::string path = "/nonexistent-wsgather-dir/sub/out.jsonl";
    try {
        Sink sink(path);
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
    Sink sink("/dev/fd/" + std::to_string(fds[1]));
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
        Sink sink("/dev/fd/" + std::to_string(fds[1]));
        ::close(fds[1]);
        ec = write_all(sink, lines);
    }  // the sink's descriptor was the last write end: the reader sees EOF
    reader.join();
    ::close(fds[0]);
    CHECK_FALSE(ec);
    CHECK(received.size() == joined(lines).size());
    CHECK(received == joined(lines));
}

TEST_CASE("a rotated file's name has the UTC time before its extension") {
    auto when = std::chrono::system_clock::time_point(std::chrono::microseconds(1'764'756'420'123'456));
    CHECK(rotated_name("trades.jsonl", when) == "trades.20251203T100700.123456Z.jsonl");
    CHECK(rotated_name("/var/lib/w/feeds.jsonl", when) == "/var/lib/w/feeds.20251203T100700.123456Z.jsonl");
    CHECK(rotated_name("dir.d/feeds", when) == "dir.d/feeds.20251203T100700.123456Z");
    CHECK(rotated_name(".hidden", when) == ".hidden.20251203T100700.123456Z");
    CHECK(rotated_name("a.b.txt", when) == "a.b.20251203T100700.123456Z.txt");
}

TEST_CASE("a feed's own file name keeps only safe characters") {
    CHECK(per_feed_path("out", "trades", Format::jsonl) == "out/trades.jsonl");
    CHECK(per_feed_path("out", "127.0.0.1:9000/trades", Format::jsonl) == "out/127.0.0.1_9000_trades.jsonl");
    CHECK(per_feed_path("out", "a b/ü", Format::raw) == "out/a_b___.txt");
    CHECK(per_feed_path("out", "..", Format::jsonl) == "out/_...jsonl");
}

TEST_CASE("two output file names name one file when they differ only by '.', '..' or doubled '/'") {
    CHECK(same_file_name("f", "./f"));
    CHECK(same_file_name("d/../f", "f"));
    CHECK(same_file_name("out//a.jsonl", "out/a.jsonl"));
    CHECK(same_file_name("-", "-"));
    CHECK_FALSE(same_file_name("f", "g"));
    CHECK_FALSE(same_file_name("d/f", "f"));
    CHECK_FALSE(same_file_name("-", "./-"));
}

TEST_CASE("sink rotation by size cuts between lines, a long line alone in its file") {
    char pattern[] = "/tmp/wsgather-unit-rotate-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    std::string dir = pattern;
    std::string path = dir + "/out.jsonl";
    std::vector<std::string> rotated;
    {
        RotateOptions rotate;
        rotate.size = 10;
        Sink sink(path, rotate, [&](const std::string& name) { rotated.push_back(name); });
        // 4 + 4 fit in 10; then 4 + a 12-byte line that fits nowhere; then 4.
        CHECK_FALSE(write_all(sink, {"aaa\nbbb\n", "ccc\nlong-line-x\n", "ddd\n"}));
    }
    REQUIRE(rotated.size() == 3);
    std::vector<std::string> contents;
    for (const std::string& name : rotated) contents.push_back(read_file(name));
    contents.push_back(read_file(path));
    CHECK(contents == std::vector<std::string>{"aaa\nbbb\n", "ccc\n", "long-line-x\n", "ddd\n"});
    for (const std::string& name : rotated) ::unlink(name.c_str());
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
}

TEST_CASE("sink appends to what a file holds and counts it against the rotation size") {
    TempPath temp;
    write_file(temp.path, "old1\nold2\n");
    std::vector<std::string> rotated;
    {
        RotateOptions rotate;
        rotate.size = 14;
        Sink sink(temp.path, rotate, [&](const std::string& name) { rotated.push_back(name); });
        CHECK_FALSE(write_all(sink, {"new1\n"}));
    }
    REQUIRE(rotated.size() == 1);
    CHECK(read_file(rotated[0]) == "old1\nold2\n");
    CHECK(read_file(temp.path) == "new1\n");
    ::unlink(rotated[0].c_str());
}

TEST_CASE("sink reopens its file by name after the file was moved") {
    TempPath temp, moved;
    Sink sink(temp.path);
    CHECK_FALSE(write_all(sink, {"before\n"}));
    REQUIRE(::rename(temp.path.c_str(), moved.path.c_str()) == 0);
    CHECK_FALSE(write_all(sink, {"still old\n"}));
    CHECK_FALSE(sink.reopen());
    CHECK_FALSE(write_all(sink, {"after\n"}));
    CHECK_FALSE(sink.sync());
    CHECK(read_file(moved.path) == "before\nstill old\n");
    CHECK(read_file(temp.path) == "after\n");
}
