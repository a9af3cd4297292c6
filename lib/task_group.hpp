// The gather pattern: start coroutines, then wait until all of them have
// finished. A coroutine that throws does not stop the others; join()
// rethrows the first exception once all are done. A completion handler can
// be counted as a task too (track), for work that is cheaper as a chain of
// callbacks than as a coroutine of its own. Single-threaded: every task runs
// on the group's executor.
#pragma once

#include "feed_io.hpp"

#include <boost/asio/co_spawn.hpp>

#include <cstddef>
#include <exception>
#include <utility>

namespace wsgather {

class TaskGroup {
public:
    explicit TaskGroup(FeedExecutor executor) : executor_(executor) {}
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;

    void spawn(FeedTask<> task) {
        ++running_;
        boost::asio::co_spawn(executor_, std::move(task), [this](std::exception_ptr error) {
            if (error && !first_error_) first_error_ = error;
            finish();
        });
    }

    // Wraps a completion handler so that join() waits until it has run. A
    // handler that starts the next step tracks that step before it returns,
    // so a chain of them keeps the group busy from start to end.
    template <class Handler>
    auto track(Handler handler) {
        ++running_;
        return [this, handler = std::move(handler)](auto&&... args) mutable {
            handler(std::forward<decltype(args)>(args)...);
            finish();
        };
    }

    std::size_t running() const { return running_; }

    FeedTask<> join() {
        // The timer is only a wake-up signal: it never expires, and the last
        // task to finish cancels it. It exists only while join() waits: a
        // feed's group lasts as long as its connection but waits only at the end.
        if (running_ > 0) {
            FeedTimer idle(executor_);
            idle_ = &idle;
            while (running_ > 0) {
                idle.expires_at(FeedTimer::time_point::max());
                co_await idle.async_wait(use_tuple);
            }
            idle_ = nullptr;
        }
        if (first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
    }

private:
    void finish() {
        if (--running_ == 0 && idle_) idle_->cancel();
    }

    FeedExecutor executor_;
    FeedTimer* idle_ = nullptr;  // join()'s, while it waits
    std::size_t running_ = 0;
    std::exception_ptr first_error_;
};

}  // namespace wsgather
