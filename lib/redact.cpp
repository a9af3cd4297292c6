#include "redact.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>

namespace wsgather {

bool is_secret_header(std::string_view name, const std::vector<std::string>& secret_headers) {
    static constexpr std::array<std::string_view, 4> credentials{
        "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"};
    auto same_name = [name](std::string_view secret) { return boost::beast::iequals(name, secret); };
    return std::any_of(credentials.begin(), credentials.end(), same_name) ||
           std::any_of(secret_headers.begin(), secret_headers.end(), same_name);
}

std::string printable_header(std::string_view name, std::string_view value,
                             const std::vector<std::string>& secret_headers) {
    std::string text(name);
    text += ": ";
    text += is_secret_header(name, secret_headers) ? std::string_view("***") : value;
    return text;
}

}  // namespace wsgather
