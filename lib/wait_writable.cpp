#include "wait_writable.hpp"

#include <cerrno>
#include <poll.h>

namespace wsgather {

void wait_writable(int fd) {
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    // POLLERR or POLLHUP also end the wait: the retried write gets the error.
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
}

}  // namespace wsgather
