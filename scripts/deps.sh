#!/usr/bin/env bash
# Install the Debian packages the project runs on, idempotently: apt runs only when one is missing.
source "$(dirname "$0")/lib.sh"

packages=(
  # the lab's container hosts (podman needs runc and iptables here; debootstrap builds the base image)
  podman runc iptables netavark aardvark-dns uidmap debootstrap
  # tools the controller's tests call
  openssh-client git make curl
  # the agent's native parser (scripts/native.sh, the analytics wheel): a C compiler and the Python headers
  gcc python3-dev
  # real peers for the integration tests
  mariadb-server mariadb-client goiardi ruby ruby-mixlib-authentication
  # the issue tracker the deployment notes go to (Redmine on SQLite, served by WEBrick: `lab redmine` starts the
  # lab's on 127.0.0.1, and the tests theirs the same way)
  redmine redmine-sqlite ruby-webrick
  # the bare-metal twin: QEMU with iPXE ROMs, its initrd and its DHCP server
  qemu-system-x86 ipxe-qemu cpio busybox-static dnsmasq-base nginx-light
  # the netboot images: sshd and SFTP for the live and installed initramfs, a bootable disk without mounts
  dropbear-bin openssh-sftp-server syslinux syslinux-common mtools
  # benchmark baselines
  mawk mtail time
  # the control panel's browser tests (driven by playwright from PyPI; its own browser download cannot work here)
  chromium
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} Debian packages present"
  exit 0
fi
step "apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
# Packaged services (goiardi, nginx, MariaDB) must not start on the controller: tests run their own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  as_root chmod 755 "$policy"
  created_policy=1
fi
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ "$created_policy" -eq 1 ] && as_root rm -f "$policy"
exit 0
