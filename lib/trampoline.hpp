// The feeds' executor. A handler posted from inside another handler runs
// right after it, on the same trip through the event loop, instead of
// waiting for the scheduler's next turn.
//
// Why: Asio's scheduler runs its reactor (an epoll_wait system call) between
// any two handlers, and Beast posts the completion of every read whose frame
// was already in its buffer. On a feed of small messages that is one system
// call per message, a sixth of the I/O thread's time (docs/performance.md).
//
// Posted work still never runs inside the call that posts it (blocking.never
// holds): it waits in a queue, per thread, that is drained when the handler
// running now returns. At most `max_run` queued handlers run in a row; the
// rest go back to the scheduler, so that the reactor, the timers and the
// other feeds get their turn.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/require.hpp>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace wsgather {

namespace trampoline_detail {

// A move-only void() function, stored in place when small. A larger one,
// such as the completion Beast posts for every message (144 bytes) or
// ReadAheadSocket's (up to 408), is boxed in memory from Asio's per-thread
// recycling allocator, so that a busy feed does not call malloc per message.
class Task {
public:
    template <class F>
    explicit Task(F&& f) {
        using Fn = std::decay_t<F>;
        if constexpr (sizeof(Fn) <= sizeof(storage_) && alignof(Fn) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<Fn>) {
            ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
            ops_ = &inline_ops<Fn>;
        } else {
            Box<Fn> box;
            Fn* boxed = box.allocate(1);
            try {
                ::new (static_cast<void*>(boxed)) Fn(std::forward<F>(f));
            } catch (...) {
                box.deallocate(boxed, 1);
                throw;
            }
            ::new (static_cast<void*>(storage_)) Fn*(boxed);
            ops_ = &boxed_ops<Fn>;
        }
    }
    Task(Task&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
        if (ops_) ops_->move(other.storage_, storage_);
    }
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (ops_) ops_->destroy(storage_);
            ops_ = std::exchange(other.ops_, nullptr);
            if (ops_) ops_->move(other.storage_, storage_);
        }
        return *this;
    }
    Task(const Task&) = delete;
    ~Task() {
        if (ops_) ops_->destroy(storage_);
    }

    // Runs the function once; it is destroyed afterwards, even if it throws.
    void operator()() {
        const Ops* ops = std::exchange(ops_, nullptr);
        struct Destroy {
            const Ops* ops;
            void* at;
            ~Destroy() { ops->destroy(at); }
        } destroy{ops, storage_};
        ops->run(storage_);
    }

private:
    template <class Fn>
    using Box = boost::asio::recycling_allocator<Fn>;

    struct Ops {
        void (*run)(void*);
        void (*move)(void* from, void* to);  // leaves `from` destroyed
        void (*destroy)(void*);
    };
    template <class Fn>
    static constexpr Ops inline_ops{
        [](void* at) { (*static_cast<Fn*>(at))(); },
        [](void* from, void* to) {
            ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
            static_cast<Fn*>(from)->~Fn();
        },
        [](void* at) { static_cast<Fn*>(at)->~Fn(); },
    };
    template <class Fn>
    static constexpr Ops boxed_ops{
        [](void* at) { (**static_cast<Fn**>(at))(); },
        [](void* from, void* to) { ::new (to) Fn*(*static_cast<Fn**>(from)); },
        [](void* at) {
            Fn* boxed = *static_cast<Fn**>(at);
            boxed->~Fn();
            Box<Fn>().deallocate(boxed, 1);
        },
    };

    alignas(std::max_align_t) unsigned char storage_[32];
    const Ops* ops_;
};

// This thread's queue of handlers posted while one of them was running.
struct Queue {
    bool running = false;
    // The execution context of the run in progress: only what is posted to
    // that context may join the queue. A handler posted to another context
    // (another I/O thread's, with --threads) must run on that one's thread.
    const void* context = nullptr;
    std::vector<Task> tasks;
    std::size_t next = 0;  // tasks before it have run

    bool empty() const { return next == tasks.size(); }
    void push(Task task) { tasks.push_back(std::move(task)); }
    Task pop() { return std::move(tasks[next++]); }
    // Drops the tasks that have run, keeping the vector's memory.
    void compact() {
        tasks.erase(tasks.begin(), tasks.begin() + static_cast<std::ptrdiff_t>(next));
        next = 0;
    }
};
Queue& this_thread_queue();

}  // namespace trampoline_detail

template <class Inner>
class Trampoline {
public:
    // Queued handlers run in a row before the scheduler gets its turn back.
    static constexpr std::size_t max_run = 64;

    explicit Trampoline(Inner inner, bool never_blocking = false) : inner_(std::move(inner)), never_(never_blocking) {}

    template <class F>
    void execute(F&& f) const {
        trampoline_detail::Queue& queue = trampoline_detail::this_thread_queue();
        if (queue.running && queue.context == context()) {
            queue.push(trampoline_detail::Task(std::forward<F>(f)));
            return;
        }
        // Run here only on a thread that runs the io_context, as the inner
        // executor itself would; elsewhere, post.
        if (never_ || !inner_.running_in_this_thread()) {
            boost::asio::require(inner_, boost::asio::execution::blocking.never)
                .execute([self = *this, task = trampoline_detail::Task(std::forward<F>(f))]() mutable {
                    self.run(std::move(task));
                });
            return;
        }
        run(trampoline_detail::Task(std::forward<F>(f)));
    }

    boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
        return boost::asio::query(inner_, boost::asio::execution::context);
    }
    boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) const noexcept {
        if (never_) return boost::asio::execution::blocking.never;
        return boost::asio::execution::blocking.possibly;
    }
    Trampoline require(boost::asio::execution::blocking_t::never_t) const { return Trampoline(inner_, true); }
    Trampoline require(boost::asio::execution::blocking_t::possibly_t) const { return Trampoline(inner_, false); }
    auto require(boost::asio::execution::outstanding_work_t::tracked_t p) const { return rewrap(boost::asio::prefer(inner_, p)); }
    auto require(boost::asio::execution::outstanding_work_t::untracked_t p) const {
        return rewrap(boost::asio::prefer(inner_, p));
    }
    auto query(boost::asio::execution::outstanding_work_t p) const { return boost::asio::query(inner_, p); }

    friend bool operator==(const Trampoline& a, const Trampoline& b) noexcept {
        return a.inner_ == b.inner_ && a.never_ == b.never_;
    }
    friend bool operator!=(const Trampoline& a, const Trampoline& b) noexcept { return !(a == b); }

private:
    const void* context() const { return &boost::asio::query(inner_, boost::asio::execution::context); }

    template <class Other>
    Trampoline<Other> rewrap(Other inner) const {
        return Trampoline<Other>(std::move(inner), never_);
    }

    // Runs `first`, then what it and its successors post, in order. Tasks
    // left from an earlier run that reached max_run go first.
    void run(trampoline_detail::Task first) const {
        trampoline_detail::Queue& queue = trampoline_detail::this_thread_queue();
        if (!queue.empty()) {
            queue.push(std::move(first));
            first = queue.pop();
        }
        queue.running = true;
        queue.context = context();
        // Also when a handler throws: the rest are not lost, they go to the
        // scheduler, and the exception goes on to whoever runs the io_context.
        struct Stop {
            const Trampoline& self;
            trampoline_detail::Queue& queue;
            ~Stop() {
                queue.running = false;
                queue.context = nullptr;
                queue.compact();
                if (!queue.empty()) boost::asio::post(self.inner_, [self = self] { self.resume(); });
            }
        } stop{*this, queue};
        first();
        for (std::size_t ran = 1; ran < max_run && !queue.empty(); ++ran) queue.pop()();
    }

    void resume() const {
        trampoline_detail::Queue& queue = trampoline_detail::this_thread_queue();
        if (queue.running || queue.empty()) return;  // a run in between took them
        run(queue.pop());
    }

    Inner inner_;
    bool never_;
};

}  // namespace wsgather
