// One feed: connect, TLS, WebSocket handshake, subscribe, read; and around
// that, reconnect with backoff until it is stopped or gives up. Every message
// becomes a line in the shared channel; a full channel pauses the reading.
#pragma once

#include "backoff.hpp"
#include "busy_feed.hpp"
#include "channel.hpp"
#include "envelope.hpp"
#include "feed_io.hpp"
#include "options.hpp"
#include "proxy.hpp"
#include "quota.hpp"
#include "stats.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wsgather {

class TaskGroup;

enum class FeedOutcome {
    stopped,  // stop() was called
    ended,    // without reconnecting, the server closed normally
    failed,   // gave up: a permanent error, --max-retries, or --no-reconnect after an error
};

class Feed {
public:
    // `tls` may be null for a ws:// feed.
    Feed(FeedExecutor executor, boost::asio::ssl::context* tls, const FeedOptions& options,
         const OutputOptions& output, Channel& lines, Quota& quota);
    Feed(const Feed&) = delete;
    Feed& operator=(const Feed&) = delete;

    // The reconnect loop; when it returns, outcome() tells how it ended.
    FeedTask<> run();
    FeedOutcome outcome() const { return outcome_; }

    // Ends the feed cleanly from any state: an open connection is closed with
    // code 1000, a connection attempt or a backoff wait is abandoned.
    void stop();

    const std::string& name() const { return spec_.name; }
    // --stats; any thread may read them.
    const FeedCounters& counters() const { return counters_; }

private:
    // How one connection attempt ended.
    struct Attempt {
        bool connected = false;   // the WebSocket handshake succeeded
        bool give_up = false;     // retrying cannot help
        bool clean = false;       // the server closed with 1000 or 1001
        std::chrono::steady_clock::duration up_for{};
        std::optional<Duration> retry_after;
        std::string location;     // an HTTP redirect's Location, followed at once
        std::string reason;
        // The close frame's code; 1006 (RFC 6455, 7.1.5) when the connection
        // ended without one.
        unsigned close_code = 1006;
    };

    template <class Ws> FeedTask<> attempt(Attempt& result);
    FeedTask<> give_up(const std::string& reason);
    // --events: writes a lifecycle record into the output, waiting for room;
    // messages dropped since the last "dropped" record are reported first.
    FeedTask<> emit_event(std::string data);
    FeedTask<> queue_event(std::string_view data, std::chrono::system_clock::time_point now);
    // An event's line in the channel: no seq, the current conn.
    Message event_message(std::string_view data, std::chrono::system_clock::time_point now);
    // A received message into the channel, or dropped as --overflow says;
    // false when the channel is full and the policy is to wait for room.
    bool offer(const Message& message);
    // --events with a drop policy: a "dropped" record for the drops since
    // the last one, at most once per drop_report_interval, if there is room
    // now; if not, the count waits for the next chance.
    void report_drops(std::chrono::system_clock::time_point now);
    std::string drop_report(std::uint64_t drops) const;
    template <class Ws> FeedTask<> open(Ws& ws, Attempt& result);
    template <class Ws> FeedTask<> session(Ws& ws, Attempt& result);
    template <class Ws> FeedTask<> read_messages(Ws& ws, Attempt& result);
    // The liveness check: pings, and a verdict on each (lib/feed.cpp).
    template <class Ws> void schedule_ping(Ws& ws, TaskGroup& tasks);
    template <class Ws> void wait_for_liveness_event(Ws& ws, TaskGroup& tasks);
    template <class Ws> void check_liveness(Ws& ws, TaskGroup& tasks);
    template <class Ws> FeedTask<> close(Ws& ws);
    // --heartbeat: the text, every interval, while the session lasts.
    template <class Ws> FeedTask<> send_heartbeats(Ws& ws);
    // Where the current attempt connects: the feed's URL, or where a redirect led.
    const FeedSpec& where() const { return redirected_ ? *redirected_ : spec_; }
    // Points where() at result.location; false (and result.reason says why)
    // for a loop, too many redirects, or a URL wsgather will not go to.
    bool follow_redirect(Attempt& result, std::vector<std::string>& visited);
    FeedTask<boost::asio::ip::tcp::resolver::results_type> resolve(
        const std::string& host, const std::string& port, std::chrono::steady_clock::time_point deadline,
        Attempt& result);
    // The proxy the current attempt goes through, if any; sets result.reason
    // when the one named is not a proxy URL.
    std::optional<ProxyUrl> choose_proxy(Attempt& result) const;
    // Calls `interrupt` if `deadline` passes before disarm_deadline(); then
    // deadline_passed_ is set. One deadline at a time, on timer_.
    template <class Interrupt> void arm_deadline(std::chrono::steady_clock::time_point deadline, Interrupt interrupt);
    void disarm_deadline();
    // How long a read may wait for more data now (--coalesce).
    Duration coalesce_time() const;
    // Sets result from a non-101 answer: its reason, whether to give up, a
    // Retry-After, a redirect's Location.
    void explain_handshake_answer(const boost::beast::websocket::response_type& answer, Attempt& result);
    std::string check_handshake_answer(std::string_view subprotocol, std::string_view extensions) const;

    FeedExecutor executor_;
    boost::asio::ssl::context* tls_;
    const FeedSpec& spec_;
    std::unique_ptr<FeedSpec> redirected_;  // only during an attempt that was redirected
    const FeedOptions& options_;
    Channel& lines_;
    Quota& quota_;
    Envelope envelope_;
    bool events_;  // --events
    Overflow overflow_;
    FeedCounters counters_;
    std::uint64_t drops_reported_ = 0;  // counters_.drops() at the last "dropped" record
    std::chrono::system_clock::time_point drops_reported_at_{};
    Backoff backoff_;

    // One timer for the three waits a feed has, which never overlap: the
    // attempt's deadline (resolve, connect, TLS), the backoff between
    // attempts, the liveness check.
    FeedTimer timer_;
    std::unique_ptr<FeedTimer> heartbeat_timer_;  // only with --heartbeat: an idle feed stays small

    FeedOutcome outcome_ = FeedOutcome::stopped;
    std::uint64_t seq_ = 0;   // messages written, across connections
    std::uint64_t conn_ = 0;  // successful handshakes
    bool stopping_ = false;
    bool deadline_passed_ = false;
    std::uint64_t deadline_generation_ = 0;
    bool session_over_ = false;
    bool paused_ = false;      // waiting for room in the channel, not reading
    bool peer_dead_ = false;   // the liveness check closed the socket
    // Counts frames received (and pauses ended): the liveness check needs
    // only to know whether any came after its ping, and a counter is cheaper
    // than a clock read per frame.
    std::uint64_t signs_of_life_ = 0;
    std::uint64_t signs_at_ping_ = 0;  // signs_of_life_ when unanswered_ping_ went out
    std::optional<std::chrono::steady_clock::time_point> unanswered_ping_;  // the oldest ping not answered
    std::chrono::steady_clock::time_point next_ping_;
    bool ping_in_flight_ = false;  // async_ping not yet complete
    BusyFeed busy_;  // with --coalesce auto
    std::function<void()> on_stop_;  // how stop() interrupts the current step
};

}  // namespace wsgather
