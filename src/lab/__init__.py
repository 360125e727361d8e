"""The local lab: podman hosts from a locally built Debian image (and, later, the QEMU twin and peers)."""
