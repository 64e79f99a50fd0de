/*
 * Error numbers: Linux's values, so the same numbers serve the syscall ABI,
 * the wire protocol and kernel-internal returns (as negative values).
 * lib/errno.c gives each a name and a message (errno_name, errno_message).
 */
#ifndef KERNEL_ERRNO_H
#define KERNEL_ERRNO_H

/* X(name, value, message) */
#define ERRNO_LIST(X)                                          \
	X(EPERM, 1, "operation not permitted")                  \
	X(ENOENT, 2, "no such file or directory")               \
	X(ESRCH, 3, "no such process")                          \
	X(EINTR, 4, "interrupted")                              \
	X(EIO, 5, "input/output error")                         \
	X(ENXIO, 6, "no such device or address")                \
	X(E2BIG, 7, "argument list too long")                   \
	X(ENOEXEC, 8, "exec format error")                      \
	X(EBADF, 9, "bad file descriptor")                      \
	X(ECHILD, 10, "no child processes")                     \
	X(EAGAIN, 11, "try again")                              \
	X(ENOMEM, 12, "out of memory")                          \
	X(EACCES, 13, "permission denied")                      \
	X(EFAULT, 14, "bad address")                            \
	X(EBUSY, 16, "device or resource busy")                 \
	X(EEXIST, 17, "file exists")                            \
	X(ENODEV, 19, "no such device")                         \
	X(ENOTDIR, 20, "not a directory")                       \
	X(EISDIR, 21, "is a directory")                         \
	X(EINVAL, 22, "invalid argument")                       \
	X(ENOSPC, 28, "no space left on device")                \
	X(ERANGE, 34, "result out of range")                    \
	X(ENOSYS, 38, "function not implemented")               \
	X(EPROTO, 71, "protocol error")                         \
	X(EBADMSG, 74, "bad message")                           \
	X(EMSGSIZE, 90, "message too long")                     \
	X(ENOTSUP, 95, "operation not supported")               \
	X(ECONNRESET, 104, "connection reset by peer")          \
	X(ENOBUFS, 105, "no buffer space available")            \
	X(ETIMEDOUT, 110, "timed out")                          \
	X(EHOSTUNREACH, 113, "no route to host")                \
	X(ESTALE, 116, "stale request or handle")               \
	X(EREMOTEIO, 121, "remote i/o error")

enum errno_value {
#define ERRNO_ENUM(name, value, msg) name = value,
	ERRNO_LIST(ERRNO_ENUM)
#undef ERRNO_ENUM
};

/* "ENOMEM" for 12 or -12; "E?" for unknown numbers. */
const char *errno_name(int err);
/* "out of memory" for 12 or -12; "unknown error" for unknown numbers. */
const char *errno_message(int err);

#endif
