#include "supervisor.hpp"

#include "channel.hpp"
#include "feed.hpp"
#include "log.hpp"
#include "quota.hpp"
#include "sink.hpp"
#include "task_group.hpp"
#include "tls.hpp"
#include "trampoline.hpp"
#include "units.hpp"
#include "writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

namespace wsgather {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Everything one run owns. Members are declared in the order they must be
// built; the io_context comes first so it is destroyed last.
class Run {
public:
    // `tls` is null when no feed is wss://.
    explicit Run(const Options& options, asio::ssl::context* tls, Sink& sink)
        : options_(options),
          tls_(tls),
          sink_(sink),
          lines_(io_.get_executor(), options.output.buffer),
          quota_(options.run.count, [this] { stop("reached --count"); }),
          feeds_group_(feed_executor_),
          signals_(io_, SIGINT, SIGTERM),
          deadline_(io_) {}

    int execute() {
        for (const FeedSpec& spec : options_.feeds)
            feeds_.push_back(std::make_unique<Feed>(feed_executor_, tls_, spec, options_, lines_, quota_));

        watch_signals();
        if (options_.run.duration.count() > 0) {
            deadline_.expires_after(options_.run.duration);
            deadline_.async_wait([this](boost::system::error_code ec) {
                if (!ec) stop("reached --duration");
            });
        }
        asio::co_spawn(io_, supervise(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
        run_flushing(io_, lines_);
        return status_;
    }

private:
    asio::awaitable<void> supervise() {
        for (auto& feed : feeds_) feeds_group_.spawn(feed->run());
        asio::co_spawn(io_, write(), asio::detached);

        co_await feeds_group_.join();
        // Every producer has finished: the writer drains what is left and returns.
        lines_.close();
        writer_done_.expires_at(asio::steady_timer::time_point::max());
        if (!writer_finished_) co_await writer_done_.async_wait(use_tuple);

        bool failed = false;
        for (auto& feed : feeds_) failed = failed || feed->outcome() == FeedOutcome::failed;
        if (status_ == exit_ok && failed) status_ = exit_failure;
        signals_.cancel();
        deadline_.cancel();
    }

    asio::awaitable<void> write() {
        WriteResult result = co_await asio::co_spawn(write_thread_, write_blocking(), asio::use_awaitable);
        // The reader is gone (`| head`): end at once and quietly.
        if (result.error == std::errc::broken_pipe) abandon(exit_ok);
        if (result.error) {
            log::error("", "cannot write to {}: {}", sink_.name(), result.error.message());
            abandon(exit_failure);
        }
        writer_finished_ = true;
        writer_done_.cancel();
    }

    // Runs on the write thread: the blocking writes never hold up the feeds.
    asio::awaitable<WriteResult> write_blocking() { co_return write_lines(lines_, sink_); }

    // Ends the process now. Used when nothing more can be delivered, and for
    // a second signal: every line written so far is already in the kernel's
    // hands, and the kernel closes the sockets. Unwinding instead would mean
    // waiting for every close handshake, which is what the user declined.
    [[noreturn]] static void abandon(int status) { std::_Exit(status); }

    void watch_signals() {
        signals_.async_wait([this](boost::system::error_code ec, int signal) {
            if (ec) return;
            if (stopping_) abandon(128 + signal);  // a second signal: do not wait for the drain
            stop(signal == SIGINT ? "interrupted" : "terminated");
            watch_signals();
        });
    }

    void stop(const char* why) {
        if (stopping_) return;
        stopping_ = true;
        log::info("", "stopping: {}", why);
        deadline_.cancel();
        for (auto& feed : feeds_) feed->stop();
    }

    const Options& options_;
    asio::ssl::context* tls_;
    Sink& sink_;
    asio::io_context io_{1};
    FeedExecutor feed_executor_{io_.get_executor()};  // every feed, and their group
    asio::thread_pool write_thread_{1};
    Channel lines_;
    Quota quota_;
    TaskGroup feeds_group_;
    asio::signal_set signals_;
    asio::steady_timer deadline_;
    asio::steady_timer writer_done_{io_};
    std::vector<std::unique_ptr<Feed>> feeds_;
    bool stopping_ = false;
    bool writer_finished_ = false;
    int status_ = exit_ok;
};

}  // namespace

int run(const Options& options) {
    log::set_verbosity(options.verbosity);
    try {
        bool any_wss = std::any_of(options.feeds.begin(), options.feeds.end(), [](const FeedSpec& f) { return f.tls; });
        std::optional<asio::ssl::context> tls = make_tls_context(options.tls, any_wss);
        Sink sink(options.output);
        return Run(options, tls ? &*tls : nullptr, sink).execute();
    } catch (const TlsSetupError& e) {
        log::error("", "{}", e.what());
        return exit_usage;
    } catch (const SinkError& e) {
        log::error("", "{}", e.what());
        return exit_failure;
    }
}

}  // namespace wsgather
