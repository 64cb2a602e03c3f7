#!/bin/sh
# /init of the timesync VM test guest (written into the initramfs by
# test/vm/host). It prepares a minimal system, brings eth0 up on qemu's user
# network (the host's loopback is 10.0.2.2), runs the in-guest test program
# and powers the guest off. Nothing here runs on the host.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
insmod /lib/modules/e1000.ko || echo "VMTEST LOG insmod e1000 failed"
# The user the service's unprivileged engine runs as (the installers
# create it on a real system).
mkdir -p /etc
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
echo 'timesync:x:998:998:timesync engine:/nonexistent:/bin/false' >> /etc/passwd
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >> /etc/passwd
printf 'root:x:0:\ntimesync:x:998:\nnogroup:x:65534:\n' > /etc/group
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
/usr/bin/timesync-vmtest
echo "VMTEST LOG timesync-vmtest exited with status $?"
poweroff -f
