"""One vocabulary for failures the user or the machine causes, as opposed to bugs.

A CLI shows a user mistake (exit 2) or an environment condition (exit 1: a read-only folder, a
full disk, no memory) as one line naming what and where, never as "unexpected error ... please
report it". :func:`environment_problem` recognises the environment conditions among Python's and
TensorFlow's exceptions (by class name, so TensorFlow is never imported here) and words them.
Standard library only.
"""

from __future__ import annotations

import errno

#: errno values that describe the machine, not the program.
ENVIRONMENT_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.ENOMEM,
    errno.EMFILE, errno.ENFILE, errno.EFBIG, errno.ENOTDIR, errno.EISDIR, errno.ENOENT,
    errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP, errno.EBUSY, errno.ETXTBSY, errno.EXDEV})
#: The same conditions as TensorFlow's C++ layer words them inside an ``OpError``.
ENVIRONMENT_TEXTS = ("No space left on device", "Disk quota exceeded", "Read-only file system",
                     "Permission denied", "Cannot allocate memory", "Input/output error",
                     "File too large", "Not a directory", "Is a directory", "Too many open files")
#: TensorFlow ``OpError`` subclasses that always describe the machine.
ENVIRONMENT_OP_ERRORS = ("PermissionDeniedError", "ResourceExhaustedError", "UnavailableError")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _os_error_line(error: OSError) -> str:
    reason = error.strerror or _first_line(str(error)) or type(error).__name__
    where = error.filename if error.filename is not None else None
    return f"{where}: {reason}" if where is not None and str(where) not in reason else reason


def environment_problem(error: BaseException) -> str | None:
    """One line describing ``error`` when the machine caused it (full disk, read-only or missing
    folder, permissions, memory); None when it looks like a bug."""
    if isinstance(error, MemoryError):
        return "out of memory" + (f" ({_first_line(str(error))})" if str(error) else "")
    if isinstance(error, OSError):
        if error.errno is None or error.errno in ENVIRONMENT_ERRNOS:
            return _os_error_line(error)
        return None
    names = [cls.__name__ for cls in type(error).__mro__]
    if "OpError" in names and type(error).__module__.startswith("tensorflow"):
        message = getattr(error, "message", None) or str(error)
        lines = [line.strip() for line in str(message).splitlines() if line.strip()]
        for line in lines:
            if any(text in line for text in ENVIRONMENT_TEXTS):
                return line
        if type(error).__name__ in ENVIRONMENT_OP_ERRORS:
            return lines[0] if lines else type(error).__name__
    cause = error.__cause__ or error.__context__
    if cause is not None and cause is not error and isinstance(cause, (OSError, MemoryError)):
        return environment_problem(cause)
    return None


def environment_message(error: BaseException) -> str:
    """The one line shown for an error the machine caused (see :func:`environment_problem`);
    the error's own message otherwise."""
    return environment_problem(error) or str(error) or type(error).__name__
