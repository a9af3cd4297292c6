// wsgather never changes the blocking mode of the descriptors it inherits
// (stdout, stderr), but a parent may hand them over already non-blocking.
// Then write(2) answers EAGAIN when the pipe is full; this waits, as a
// blocking write would have, until the reader makes room.
#pragma once

namespace wsgather {

// Blocks until fd is writable or has failed (the next write reports why).
void wait_writable(int fd);

}  // namespace wsgather
