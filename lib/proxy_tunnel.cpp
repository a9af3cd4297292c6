#include "proxy_tunnel.hpp"

#include "base64.hpp"
#include "log.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

namespace wsgather {

namespace http = boost::beast::http;

std::string authority(std::string_view host, std::string_view port) {
    if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

FeedTask<TunnelResult> open_tunnel(FeedSocket& socket, const ProxyUrl& proxy, std::string_view host,
                                   std::string_view port) {
    std::string target = authority(host, port);
    std::string proxy_name = authority(proxy.host, proxy.port);
    http::request<http::empty_body> request{http::verb::connect, target, 11};
    request.set(http::field::host, target);
    request.set(http::field::user_agent, "wsgather/" WSGATHER_VERSION);
    if (!proxy.userinfo.empty()) {
        std::string credentials = "Basic ";
        append_base64(proxy.userinfo, credentials);
        request.set(http::field::proxy_authorization, credentials);
    }
    auto [write_error, written] = co_await http::async_write(socket, request, use_tuple);
    if (write_error)
        co_return TunnelResult{fmt::format("cannot send CONNECT to proxy {}: {}", proxy_name, write_error.message())};

    boost::beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a CONNECT answer's header is the whole of it
    auto [read_error, read] = co_await http::async_read_header(socket, buffer, parser, use_tuple);
    if (read_error == http::error::end_of_stream || read_error == http::error::partial_message)
        co_return TunnelResult{fmt::format("proxy {} closed the connection before answering CONNECT", proxy_name)};
    if (read_error)
        co_return TunnelResult{fmt::format("no answer from proxy {} to CONNECT: {}", proxy_name, read_error.message())};

    const auto& answer = parser.get();
    unsigned status = answer.result_int();
    if (status / 100 != 2) {
        TunnelResult refused{fmt::format("proxy {} refused the tunnel to {}: HTTP {} {}", proxy_name, target, status,
                                         log::one_line(answer.reason()))};
        // The same credentials will be refused again.
        refused.give_up = status == 407;
        co_return refused;
    }
    // Neither TLS nor WebSocket lets the server speak first: these bytes
    // cannot belong to the tunnel.
    if (buffer.size() != 0)
        co_return TunnelResult{fmt::format("proxy {} sent data after its CONNECT answer, before the server could",
                                           proxy_name)};
    co_return TunnelResult{};
}

}  // namespace wsgather
