#!/bin/sh
# udhcpc's hook: configure the interface from the lease (busybox passes it in the environment).
case "$1" in
    deconfig)
        ip addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound | renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
        [ -n "$hostname" ] && hostname "$hostname"
        : > /etc/resolv.conf
        for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
        echo "$ip" > /run/cdn-ip
        ;;
esac
exit 0
