// --rotate-compress: files set aside by rotation are compressed with zstd on
// a thread of their own, so that the writer, and through it the feeds, never
// wait for the compression.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace wsgather {

class Compressor {
public:
    Compressor();
    // Compresses what is queued, then returns: a clean stop leaves no
    // rotated file uncompressed.
    ~Compressor();
    Compressor(const Compressor&) = delete;
    Compressor& operator=(const Compressor&) = delete;

    // Any thread. A file that cannot be compressed stays as it is, with a
    // warning.
    void add(std::string path);

private:
    void run();

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::string> queue_;
    bool closing_ = false;
    std::thread thread_;  // last: it starts once the rest is ready
};

}  // namespace wsgather
