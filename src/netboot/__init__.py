"""Netboot artefacts built from Debian packages: kernel, live initrd, installed-OS disk image."""
