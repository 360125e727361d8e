"""Installing the OS on a server that runs the live image, over SSH with pyinfra (a POSIX shell is enough)."""
