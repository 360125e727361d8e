"""The local lab: podman hosts from a locally built Debian image, the LeaseWeb simulator and goiardi as
loopback services, and the bare-metal twins (QEMU) that the simulator's power hook drives."""
