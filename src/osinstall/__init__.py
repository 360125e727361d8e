"""Installing the OS onto a server running the live image, over SSH, with pyinfra (a POSIX shell is enough)."""
