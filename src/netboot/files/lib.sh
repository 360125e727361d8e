# Shared by the live image's and the installed OS's /init (busybox ash, PID 1).
# Every line meant for the operator starts with "cdn-infra:" on the serial console.

say() { echo "cdn-infra: $*"; }

die() {
    say "FAILED: $*"
    # Stay up (sshd may still be reachable) instead of a kernel panic that hides the console.
    while :; do sleep 3600; done
}

early_mounts() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /run /tmp /var/log
    mount -t devpts devpts /dev/pts
}

# The value of cdn.NAME=VALUE on the kernel command line.
cmdline_arg() {
    for arg in $(cat /proc/cmdline); do
        case "$arg" in "cdn.$1="*) echo "${arg#*=}"; return 0 ;; esac
    done
    return 1
}

# The drivers the kernel builds as modules, dependencies first (written by the image builder).
load_modules() {
    while read -r module; do
        insmod "$module" || say "insmod $module failed"
    done < /lib/cdn/modules
}

# DHCP on the first Ethernet interface; sets IFACE, MAC and IP.
net_up() {
    ip link set lo up
    IFACE=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        for dev in /sys/class/net/*; do
            [ "$(cat "$dev/type")" = 1 ] && IFACE=${dev##*/} && break 2
        done
        sleep 1
    done
    [ -n "$IFACE" ] || return 1
    MAC=$(cat "/sys/class/net/$IFACE/address")
    ip link set "$IFACE" up
    udhcpc -i "$IFACE" -s /lib/cdn/udhcpc.sh -q -f -n -t 10 -T 2 >/dev/null 2>&1 || return 1
    IP=$(cat /run/cdn-ip)
}

# http METHOD URL: the body on stdout; fails unless the status is 2xx. busybox's wget crashes in
# these guests, so this speaks HTTP/1.0 over nc (numeric hosts; the boot server is given by address).
http() {
    rest=${2#http://}
    hostport=${rest%%/*}
    path=${rest#"$hostport"}
    path=${path:-/}
    host=${hostport%:*}
    port=${hostport##*:}
    [ "$port" = "$hostport" ] && port=80
    printf '%s %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: cdn-infra-init\r\nContent-Length: 0\r\n\r\n' \
        "$1" "$path" "$hostport" | nc "$host" "$port" > /tmp/http.response || return 1
    status=$(head -n 1 /tmp/http.response | cut -d ' ' -f 2)
    sed '1,/^\r*$/d' /tmp/http.response
    case "$status" in 2??) return 0 ;; esac
    return 1
}

# Tell the boot server how far this boot got (STAGE), with the server id, the boot's token and the MAC.
callback() {
    [ -n "$CDN_CALLBACK" ] || return 0
    if http POST "$CDN_CALLBACK/$1?token=$CDN_TOKEN&mac=$MAC&ip=$IP" > /dev/null; then
        say "callback stage=$1 sent to $CDN_CALLBACK"
    else
        say "callback stage=$1 to $CDN_CALLBACK failed"
    fi
}

# root's authorized_keys: the keys in FILE (if any) plus those from the key source URL in CDN_KEYS_URL.
install_keys() {
    mkdir -p /root/.ssh
    chmod 700 /root /root/.ssh
    : > /root/.ssh/authorized_keys
    [ -s "$1" ] && cat "$1" >> /root/.ssh/authorized_keys
    if [ -n "$CDN_KEYS_URL" ]; then
        http GET "$CDN_KEYS_URL" >> /root/.ssh/authorized_keys || say "no keys from $CDN_KEYS_URL"
    fi
    chmod 600 /root/.ssh/authorized_keys
    say "$(grep -cE '^(ssh-|ecdsa-|sk-)' /root/.ssh/authorized_keys) SSH key(s) for root"
}

# dropbear, with host keys made on first use, key logins only; its log stays off the console.
start_sshd() {
    mkdir -p /etc/dropbear
    dropbear -R -s -p 22 -E 2>> /var/log/dropbear.log || return 1
}

idle_forever() {
    while :; do sleep 3600; done
}
