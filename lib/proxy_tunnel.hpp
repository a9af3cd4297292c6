// HTTP CONNECT: asking a proxy for a tunnel to the feed's server, on a
// connection already open to the proxy. TLS and the WebSocket handshake then
// run through the tunnel as they would on a direct connection.
#pragma once

#include "feed_io.hpp"
#include "proxy.hpp"

#include <string>
#include <string_view>

namespace wsgather {

struct TunnelResult {
    std::string problem;     // empty: the tunnel is open
    bool give_up = false;    // the proxy refused our credentials (407)
};

// Sends "CONNECT host:port" (with Basic credentials when the proxy URL has
// them) and reads the proxy's answer; any 2xx opens the tunnel.
FeedTask<TunnelResult> open_tunnel(FeedSocket& socket, const ProxyUrl& proxy, std::string_view host,
                                   std::string_view port);

// "host:port", with brackets around an IPv6 host: a CONNECT target, or a
// proxy's name in a message.
std::string authority(std::string_view host, std::string_view port);

}  // namespace wsgather
