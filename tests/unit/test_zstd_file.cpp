// compress_file: a rotated file compressed with zstd, the original removed.
#include "zstd_file.hpp"
#include "temp_file.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <zstd.h>

using namespace wsgather;
using wsgather::test::read_file;
using wsgather::test::TempPath;
using wsgather::test::write_file;

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// A temporary path with the .zst and .zst.tmp beside it, all removed at the end.
struct TempFiles {
    TempPath temp;
    const std::string& path = temp.path;
    std::string zst = path + ".zst";
    std::string tmp = zst + ".tmp";
    ~TempFiles() {
        for (const std::string& name : {zst, tmp}) {
            ::unlink(name.c_str());
            ::rmdir(name.c_str());
        }
    }
};

// Decompresses a whole .zst with the streaming API; REQUIREs one complete frame.
std::string decompress(const std::string& compressed) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> context(ZSTD_createDCtx(), &ZSTD_freeDCtx);
    REQUIRE(context);
    std::string content;
    std::vector<char> output(ZSTD_DStreamOutSize());
    ZSTD_inBuffer input{compressed.data(), compressed.size(), 0};
    std::size_t left = 1;
    while (input.pos < input.size || left != 0) {
        ZSTD_outBuffer buffer{output.data(), output.size(), 0};
        std::size_t before = input.pos;
        left = ZSTD_decompressStream(context.get(), &buffer, &input);
        REQUIRE_MESSAGE(!ZSTD_isError(left), ZSTD_getErrorName(left));
        content.append(output.data(), buffer.pos);
        // No progress at all with input left over is a truncated frame.
        REQUIRE((buffer.pos > 0 || input.pos > before || left == 0));
    }
    return content;
}

// Compresses `content` through a file and checks everything compress_file promises.
void check_round_trip(const std::string& content) {
    TempFiles files;
    write_file(files.path, content);
    mode_t previous = ::umask(022);
    std::string error = compress_file(files.path);
    ::umask(previous);
    REQUIRE(error == "");
    CHECK_FALSE(exists(files.path));
    CHECK_FALSE(exists(files.tmp));
    struct stat st {};
    REQUIRE(::stat(files.zst.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0644);

    std::string compressed = read_file(files.zst);
    // RFC 8878: the magic number, then the frame header descriptor, whose
    // bit 2 is the content checksum flag.
    REQUIRE(compressed.size() >= 5);
    CHECK(compressed.compare(0, 4, "\x28\xb5\x2f\xfd") == 0);
    CHECK((static_cast<unsigned char>(compressed[4]) & 0x04) != 0);
    std::string back = decompress(compressed);
    CHECK(back.size() == content.size());
    CHECK(back == content);
}

// Lines of varied length and content, some bytes not text; about `size` bytes.
std::string varied_lines(std::size_t size) {
    std::string all;
    std::uint64_t state = 12345;
    auto next = [&] {
        state = state * 6364136223846793005u + 1442695040888963407u;
        return static_cast<std::uint32_t>(state >> 33);
    };
    for (std::uint64_t n = 0; all.size() < size; ++n) {
        all += "{\"n\":" + std::to_string(n) + ",\"price\":" + std::to_string(next() % 100000) + ".";
        all += std::to_string(next() % 100) + ",\"data\":\"";
        std::uint32_t length = next() % 300;
        for (std::uint32_t i = 0; i < length; ++i) {
            std::uint32_t r = next();
            all += r % 7 == 0 ? static_cast<char>(r >> 8) : static_cast<char>('a' + (r >> 8) % 26);
        }
        all += "\"}\n";
    }
    return all;
}

}  // namespace

TEST_CASE("zstd compresses an empty file") {
    check_round_trip("");
}

TEST_CASE("zstd compresses a small file") {
    check_round_trip("{\"a\":1}\n{\"b\":2}\nlast line\n");
}

TEST_CASE("zstd compresses a 5 MiB file of varied lines in chunks") {
    std::string content = varied_lines(5u << 20);
    REQUIRE(content.size() >= (5u << 20));
    REQUIRE(content.size() % ZSTD_CStreamInSize() != 0);
    check_round_trip(content);
}

TEST_CASE("zstd overwrites a .zst.tmp left by a crash") {
    TempFiles files;
    write_file(files.path, "fresh\n");
    write_file(files.tmp, std::string(100000, 'x'));
    REQUIRE(compress_file(files.path) == "");
    CHECK_FALSE(exists(files.path));
    CHECK_FALSE(exists(files.tmp));
    CHECK(decompress(read_file(files.zst)) == "fresh\n");
}

TEST_CASE("zstd of a missing file names it and creates nothing") {
    TempFiles files;
    std::string error = compress_file(files.path);
    CAPTURE(error);
    CHECK(error.find("'" + files.path + "'") != std::string::npos);
    CHECK(error.find("No such file or directory") != std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
    CHECK_FALSE(exists(files.zst));
    CHECK_FALSE(exists(files.tmp));
}

TEST_CASE("zstd of a file in a missing directory names it") {
    const std::string path = "/nonexistent-wsgather-dir/sub/out.jsonl";
    std::string error = compress_file(path);
    CAPTURE(error);
    CHECK(error.find("'" + path + "'") != std::string::npos);
    CHECK(error.find("No such file or directory") != std::string::npos);
    CHECK_FALSE(exists(path + ".zst"));
}

TEST_CASE("zstd keeps the original when the .zst.tmp cannot be created") {
    // A directory in the way: root cannot open it for writing either.
    TempFiles files;
    write_file(files.path, "keep me\n");
    REQUIRE(::mkdir(files.tmp.c_str(), 0755) == 0);
    std::string error = compress_file(files.path);
    CAPTURE(error);
    CHECK(error.find("'" + files.path + "'") != std::string::npos);
    CHECK(error.find("'" + files.tmp + "'") != std::string::npos);
    CHECK(error.find("Is a directory") != std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
    CHECK(read_file(files.path) == "keep me\n");
    CHECK_FALSE(exists(files.zst));
}

TEST_CASE("zstd keeps the original and removes the .tmp when the rename fails") {
    // A non-empty directory named like the .zst: rename(2) cannot replace it.
    TempFiles files;
    std::string inside = files.zst + "/file";
    write_file(files.path, "keep me too\n");
    REQUIRE(::mkdir(files.zst.c_str(), 0755) == 0);
    write_file(inside, "");
    std::string error = compress_file(files.path);
    ::unlink(inside.c_str());
    CAPTURE(error);
    CHECK(error.find("'" + files.path + "'") != std::string::npos);
    CHECK(error.find("'" + files.zst + "'") != std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
    CHECK(read_file(files.path) == "keep me too\n");
    CHECK_FALSE(exists(files.tmp));
}

TEST_CASE("zstd of a directory fails, removes the .tmp, keeps the directory") {
    TempFiles files;
    REQUIRE(::mkdir(files.path.c_str(), 0755) == 0);
    std::string error = compress_file(files.path);
    CAPTURE(error);
    CHECK(error.find("'" + files.path + "'") != std::string::npos);
    CHECK(error.find("Is a directory") != std::string::npos);
    CHECK_FALSE(exists(files.tmp));
    CHECK_FALSE(exists(files.zst));
    CHECK(::rmdir(files.path.c_str()) == 0);
}
