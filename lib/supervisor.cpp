#include "supervisor.hpp"

#include "channel.hpp"
#include "feed.hpp"
#include "feed_io.hpp"
#include "log.hpp"
#include "progress.hpp"
#include "quota.hpp"
#include "sink.hpp"
#include "stats.hpp"
#include "task_group.hpp"
#include "tls.hpp"
#include "units.hpp"
#include "writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace wsgather {
namespace {

namespace asio = boost::asio;

// An I/O thread beyond the first (--threads): its own io_context, the
// executor its feeds run on, and the thread, which runs until its feeds have
// all ended. The first I/O thread is the one that calls Run::execute.
struct IoThread {
    asio::io_context io{1};
    FeedExecutor executor{io.get_executor()};
    std::thread thread;
};

// Everything one run owns. Members are declared in the order they must be
// built; the io_context comes first so it is destroyed last.
class Run {
public:
    // `tls[i]` is feed i's TLS context; null for a ws:// feed that needs none.
    explicit Run(const Options& options, std::vector<asio::ssl::context*> tls, Outputs& outputs)
        : options_(options),
          tls_(std::move(tls)),
          outputs_(outputs),
          lines_(options.output.buffer),
          quota_(options.run.count, [this] { stop_from_any_thread("reached --count"); }),
          feeds_group_(feed_executor_),
          signals_(io_, SIGINT, SIGTERM),
          hangups_(io_, SIGHUP),
          deadline_(io_),
          stats_timer_(io_),
          progress_timer_(io_) {}

    // The threads end once their feeds have; they are joined here, before
    // the feeds are destroyed, and the feeds before the io_contexts their
    // timers and sockets belong to.
    ~Run() {
        for (auto& thread : more_threads_)
            if (thread->thread.joinable()) thread->thread.join();
    }

    int execute() {
        // Feed i runs on I/O thread i mod N; the first thread is this one.
        std::size_t threads = std::min(options_.run.threads, options_.feeds.size());
        for (std::size_t t = 1; t < threads; ++t) more_threads_.push_back(std::make_unique<IoThread>());
        for (std::size_t i = 0; i < options_.feeds.size(); ++i) {
            IoThread* thread = i % threads == 0 ? nullptr : more_threads_[i % threads - 1].get();
            feeds_.push_back(std::make_unique<Feed>(thread ? thread->executor : feed_executor_, tls_[i],
                                                    options_.feeds[i], options_.output, lines_, quota_));
            feed_threads_.push_back(thread);
        }

        watch_signals();
        watch_hangups();
        if (options_.run.stats.count() > 0) schedule_stats();
        if (options_.run.progress) schedule_progress();
        if (options_.run.duration.count() > 0) {
            deadline_.expires_after(options_.run.duration);
            deadline_.async_wait([this](boost::system::error_code ec) {
                if (!ec) stop("reached --duration");
            });
        }
        asio::co_spawn(feed_executor_, supervise(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
        run_flushing(io_, lines_);
        return status_;
    }

private:
    FeedTask<> supervise() {
        for (std::size_t i = 0; i < feeds_.size(); ++i)
            if (!feed_threads_[i]) feeds_group_.spawn(feeds_[i]->run());
        for (auto& thread : more_threads_) start(*thread);
        asio::co_spawn(feed_executor_, write(), asio::detached);

        co_await feeds_group_.join();
        if (thread_error_) std::rethrow_exception(thread_error_);
        // Every producer has finished: the writer drains what is left and returns.
        lines_.close();
        writer_done_.expires_at(FeedTimer::time_point::max());
        if (!writer_finished_) co_await writer_done_.async_wait(use_tuple);

        bool failed = false;
        for (auto& feed : feeds_) failed = failed || feed->outcome() == FeedOutcome::failed;
        if (status_ == exit_ok && failed) status_ = exit_failure;
        signals_.cancel();
        hangups_.cancel();
        deadline_.cancel();
        stats_timer_.cancel();
        progress_timer_.cancel();
        log::clear_status();
        if (options_.run.summary) log::write_line(stats("summary"));
    }

    FeedTask<> write() {
        WriteResult result =
            co_await asio::co_spawn(write_thread_, write_blocking(), asio::use_awaitable_t<FeedExecutor>{});
        // The reader is gone (`| head`): end at once and quietly.
        if (result.error == std::errc::broken_pipe) abandon(exit_ok);
        if (result.error) {
            log::error("", "cannot write to {}: {}", result.failed, result.error.message());
            abandon(exit_failure);
        }
        writer_finished_ = true;
        writer_done_.cancel();
    }

    // Runs `thread`'s feeds on it. The feeds' group counts the thread as one
    // task, which ends when the thread's last feed has ended.
    void start(IoThread& thread) {
        auto done = feeds_group_.track([this](std::exception_ptr error) {
            if (error && !thread_error_) thread_error_ = error;
        });
        std::vector<Feed*> feeds;
        for (std::size_t i = 0; i < feeds_.size(); ++i)
            if (feed_threads_[i] == &thread) feeds.push_back(feeds_[i].get());
        auto run_feeds = [](FeedExecutor executor, std::vector<Feed*> feeds) -> FeedTask<> {
            TaskGroup group(executor);
            for (Feed* feed : feeds) group.spawn(feed->run());
            co_await group.join();
        };
        // Spawned before the thread starts, so that its io_context has work.
        asio::co_spawn(thread.executor, run_feeds(thread.executor, std::move(feeds)),
                       [this, done = std::move(done)](std::exception_ptr error) mutable {
                           asio::post(feed_executor_, [done = std::move(done), error]() mutable { done(error); });
                       });
        thread.thread = std::thread([this, &thread] { run_flushing(thread.io, lines_); });
    }

    // Runs on the write thread: the blocking writes never hold up the feeds.
    asio::awaitable<WriteResult> write_blocking() { co_return write_lines(lines_, outputs_); }

    // Ends the process now. Used when nothing more can be delivered, and for
    // a second signal: every line written so far is already in the kernel's
    // hands, and the kernel closes the sockets. Unwinding instead would mean
    // waiting for every close handshake, which is what the user declined.
    [[noreturn]] static void abandon(int status) {
        log::clear_status();
        std::_Exit(status);
    }

    void watch_signals() {
        signals_.async_wait([this](boost::system::error_code ec, int signal) {
            if (ec) return;
            if (stopping_) abandon(128 + signal);  // a second signal: do not wait for the drain
            stop(signal == SIGINT ? "interrupted" : "terminated");
            watch_signals();
        });
    }

    // --stats: a line every DUR, on the first I/O thread; the counters are
    // atomics that each feed updates on its own thread.
    void schedule_stats() {
        stats_timer_.expires_after(options_.run.stats);
        stats_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            log::write_line(stats("stats"));
            schedule_stats();
        });
    }

    std::string stats(std::string_view type) {
        return stats_line(type, std::chrono::system_clock::now(), lines_.queued(), feed_stats());
    }

    std::vector<FeedStats> feed_stats() const {
        std::vector<FeedStats> feeds;
        for (const auto& feed : feeds_) feeds.push_back(FeedStats{feed->name(), &feed->counters()});
        return feeds;
    }

    // The progress line, redrawn every second, as wide as the terminal is now.
    void schedule_progress() {
        progress_timer_.expires_after(progress_interval);
        progress_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            log::show_status(progress_.line(feed_stats(), std::chrono::steady_clock::now(), terminal_width()));
            schedule_progress();
        });
    }

    // SIGHUP, from logrotate's postrotate: the files are reopened before the
    // next lines are written to them. It does not stop the run.
    void watch_hangups() {
        hangups_.async_wait([this](boost::system::error_code ec, int) {
            if (ec) return;
            log::info("", "reopening output files (SIGHUP)");
            outputs_.reopen_requested = true;
            watch_hangups();
        });
    }

    // On the first I/O thread, where signals and --duration are handled.
    void stop(const char* why) {
        if (stopping_) return;
        stopping_ = true;
        log::info("", "stopping: {}", why);
        deadline_.cancel();
        // A feed is stopped on its own thread.
        for (std::size_t i = 0; i < feeds_.size(); ++i) {
            if (!feed_threads_[i]) feeds_[i]->stop();
            else asio::post(feed_threads_[i]->executor, [feed = feeds_[i].get()] { feed->stop(); });
        }
    }

    void stop_from_any_thread(const char* why) {
        if (io_.get_executor().running_in_this_thread()) stop(why);
        else asio::post(io_, [this, why] { stop(why); });
    }

    const Options& options_;
    std::vector<asio::ssl::context*> tls_;
    Outputs& outputs_;
    asio::io_context io_{1};
    FeedExecutor feed_executor_{io_.get_executor()};  // the feeds on this thread, and the group of all
    asio::thread_pool write_thread_{1};
    Channel lines_;
    Quota quota_;
    TaskGroup feeds_group_;
    asio::signal_set signals_;
    asio::signal_set hangups_;
    asio::steady_timer deadline_;
    asio::steady_timer stats_timer_;
    asio::steady_timer progress_timer_;
    ProgressMeter progress_{std::chrono::steady_clock::now()};
    FeedTimer writer_done_{feed_executor_};
    std::vector<std::unique_ptr<IoThread>> more_threads_;  // before the feeds: see ~Run
    std::vector<std::unique_ptr<Feed>> feeds_;
    std::vector<IoThread*> feed_threads_;  // each feed's thread; null for the first
    std::exception_ptr thread_error_;      // the first a feed on another thread threw
    bool stopping_ = false;
    bool writer_finished_ = false;
    int status_ = exit_ok;
};

// Every sink is opened before any feed connects: a path that cannot be
// written is reported at once.
void open_outputs(const Options& options, Outputs& outputs) {
    const OutputOptions& output = options.output;
    std::function<void(const std::string&)> rotated;
    if (output.rotate.compress) {
        outputs.compressor = std::make_unique<Compressor>();
        rotated = [compressor = outputs.compressor.get()](const std::string& path) { compressor->add(path); };
    }
    if (output.files.empty() && output.per_feed_dir.empty())
        outputs.every_line.push_back(std::make_unique<Sink>(std::string(standard_output_path)));
    for (const std::string& file : output.files)
        outputs.every_line.push_back(std::make_unique<Sink>(file, output.rotate, rotated));
    if (output.per_feed_dir.empty()) return;
    if (::mkdir(output.per_feed_dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw SinkError(fmt::format("cannot make directory '{}' for --output-per-feed: {}", output.per_feed_dir,
                                    std::strerror(errno)));
    for (const FeedOptions& feed : options.feeds)
        outputs.by_feed.emplace(feed.spec.name, std::make_unique<Sink>(
                                                    per_feed_path(output.per_feed_dir, feed.spec.name, output.format),
                                                    output.rotate, rotated));
}

}  // namespace

int run(const Options& options) {
    log::set_verbosity(options.verbosity);
    try {
        // Feeds with the same TLS options share a context: making one reads
        // the CA store, which takes tens of milliseconds.
        std::map<TlsOptions, std::optional<asio::ssl::context>> contexts;
        for (const FeedOptions& feed : options.feeds) {
            if (contexts.contains(feed.tls)) continue;
            bool any_wss = std::any_of(options.feeds.begin(), options.feeds.end(), [&](const FeedOptions& f) {
                return f.spec.tls && f.tls == feed.tls;
            });
            contexts.emplace(feed.tls, make_tls_context(feed.tls, any_wss));
        }
        std::vector<asio::ssl::context*> tls;
        for (const FeedOptions& feed : options.feeds) {
            auto& context = contexts.at(feed.tls);
            tls.push_back(context ? &*context : nullptr);
        }
        Outputs outputs;
        open_outputs(options, outputs);
        return Run(options, std::move(tls), outputs).execute();
    } catch (const TlsSetupError& e) {
        log::error("", "{}", e.what());
        return exit_usage;
    } catch (const TlsUnavailable& e) {
        log::error("", "{}", e.what());
        return exit_failure;
    } catch (const SinkError& e) {
        log::error("", "{}", e.what());
        return exit_failure;
    }
}

}  // namespace wsgather
