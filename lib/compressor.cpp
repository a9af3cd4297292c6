#include "compressor.hpp"

#include "log.hpp"
#include "zstd_file.hpp"

namespace wsgather {

Compressor::Compressor() : thread_([this] { run(); }) {}

Compressor::~Compressor() {
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
    }
    ready_.notify_one();
    thread_.join();
}

void Compressor::add(std::string path) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(path));
    }
    ready_.notify_one();
}

void Compressor::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ready_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closing, and nothing left
        std::string path = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        std::string error = compress_file(path);
        if (!error.empty()) log::warning("", "{}; the file stays uncompressed", error);
        lock.lock();
    }
}

}  // namespace wsgather
