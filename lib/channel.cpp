#include "channel.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>

namespace wsgather {
namespace {

// A batch that grew for a burst of large messages gives its memory back
// once the burst is over (it used less than a quarter of it), so a quiet run
// holds little; while the burst lasts, the memory is reused, since every
// new page costs a fault.
constexpr std::size_t kept_batch_bytes = 16u << 20;

// A batch this large is handed over even when it holds few messages, so
// that the writer works on it while the feeds fill the next one (W3, 16 KiB
// messages: 15,047 page faults when batches grew to many megabytes, against
// 165 for the ceiling client).
constexpr std::size_t flush_batch_bytes = batch_bytes / 2;

}  // namespace

void Batch::append(const Message& message) {
    Header h{message.envelope, message.counters, message.seq, message.conn, message.received,
             message.payload.size(), message.kind};
    // insert, not resize: resizing would first zero the bytes it then copies over.
    const char* header = reinterpret_cast<const char*>(&h);
    bytes_.insert(bytes_.end(), header, header + sizeof h);
    bytes_.insert(bytes_.end(), message.payload.begin(), message.payload.end());
    ++count_;
}

void Batch::clear() {
    // Assigning a new vector, not {}: that would keep the capacity.
    if (bytes_.capacity() > kept_batch_bytes && bytes_.size() < bytes_.capacity() / 4) bytes_ = std::vector<char>();
    else bytes_.clear();
    front_ = 0;
    count_ = 0;
}

bool Batch::drop_oldest() {
    std::size_t at = front_;
    Header h;
    for (;;) {
        if (at == bytes_.size()) return false;
        std::memcpy(&h, bytes_.data() + at, sizeof h);
        if (h.kind != MessageKind::event) break;
        at += sizeof h + h.size;
    }
    // The events before it move up over it, so they keep their order and
    // everything live stays contiguous from front_.
    std::size_t length = sizeof h + h.size;
    std::memmove(bytes_.data() + front_ + length, bytes_.data() + front_, at - front_);
    front_ += length;
    --count_;
    h.counters->count_drop();
    // The dropped bytes are reclaimed once they outweigh the live ones: each
    // live byte is moved at most once per doubling, as when a vector grows.
    if (front_ > bytes_.size() - front_) {
        bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(front_));
        front_ = 0;
    }
    return true;
}

Channel::Channel(std::size_t capacity) : capacity_(capacity) {}

bool Channel::append_locked(const Message& message, bool& wake) {
    wake = false;
    if (filling_.size() >= capacity_ || filling_.bytes() >= batch_bytes) return false;
    filling_.append(message);
    // Half full, in messages or in bytes: hand the batch over now, so the
    // feeds need not stop while the writer works on it.
    bool hand_over = filling_.size() >= std::max<std::size_t>(capacity_ / 2, 1) || filling_.bytes() >= flush_batch_bytes;
    wake = hand_over && request_flush();
    return true;
}

bool Channel::try_send(const Message& message) {
    return append(message, false);
}

bool Channel::send_dropping_oldest(const Message& message) {
    return append(message, true);
}

bool Channel::append(const Message& message, bool drop_oldest) {
    bool wake;
    std::unique_lock lock(mutex_);
    bool sent = append_locked(message, wake);
    while (!sent && drop_oldest && filling_.drop_oldest()) sent = append_locked(message, wake);
    lock.unlock();
    if (wake) ready_.notify_one();
    return sent;
}

FeedTask<> Channel::send(const Message& message) {
    for (;;) {
        FeedTimer room(co_await boost::asio::this_coro::executor, FeedTimer::time_point::max());
        bool wake;
        std::unique_lock lock(mutex_);
        if (append_locked(message, wake)) {
            lock.unlock();
            if (wake) ready_.notify_one();
            co_return;
        }
        blocked_.push_back(&room);
        lock.unlock();
        // The writer's cancel is posted to this coroutine's executor, so it
        // runs only once the wait below has begun.
        co_await room.async_wait(use_tuple);
    }
}

void Channel::flush() {
    std::unique_lock lock(mutex_);
    bool wake = !filling_.empty() && request_flush();
    lock.unlock();
    if (wake) ready_.notify_one();
}

bool Channel::request_flush() {
    flush_requested_ = true;
    if (!writer_waiting_ || writer_notified_) return false;
    writer_notified_ = true;
    return true;
}

void Channel::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    ready_.notify_one();
}

bool Channel::receive(Batch& batch) {
    batch.clear();
    std::unique_lock lock(mutex_);
    writer_waiting_ = true;
    ready_.wait(lock, [this] { return (flush_requested_ && !filling_.empty()) || closed_; });
    writer_waiting_ = false;
    writer_notified_ = false;
    if (filling_.empty()) return false;  // closed, and everything was taken
    flush_requested_ = false;
    std::swap(batch, filling_);
    std::vector<FeedTimer*> blocked = std::exchange(blocked_, {});
    lock.unlock();
    for (FeedTimer* room : blocked)
        boost::asio::post(room->get_executor(), [room] { room->cancel(); });
    return true;
}

void run_flushing(boost::asio::io_context& io, Channel& channel) {
    while (!io.stopped()) {
        if (io.poll() == 0) {
            channel.flush();
            io.run_one();
        }
    }
}

std::size_t Channel::queued() {
    std::lock_guard lock(mutex_);
    return filling_.size();
}

}  // namespace wsgather
