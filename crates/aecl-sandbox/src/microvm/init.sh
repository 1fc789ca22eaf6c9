#!/bin/sh
# /init of aecl's microVM guest (packed into the initramfs by image.rs). The guest exists
# for one command: it reads the request from the host on its second serial port, runs
# the command as an unprivileged user with its output in files, writes the answer back on
# the same port and resets the machine (QEMU runs with -no-reboot, so it exits). The
# first serial port is the kernel's console; nothing of the protocol goes there.
#
# Protocol (protocol.rs is the host's side): after `AECL-READY` the host sends
#   AECL-REQUEST 1 / CAP bytes / LIMITS pids cpu_seconds open_files work_bytes /
#   ARGV n + n base64 lines / ENV n + n base64 `NAME=VALUE` lines / STDIN b64len + bytes
# and the guest answers
#   AECL-ANSWER 1 / EXIT code / STDOUT total + base64 lines / STDERR total + base64 lines
#   / AECL-END
# or `AECL-FAIL reason` when it could not run the command.
PATH=/bin
export PATH
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin

fail() {
    echo "AECL-FAIL $*" >&3
    exec 3>&-
    reboot -f
}

# The console is where a failure to open the protocol's port can be seen.
exec 3<>/dev/ttyS1 || { echo "aecl-init: cannot open /dev/ttyS1"; reboot -f; }
# Raw and without echo before the host sends anything: the host waits for READY, so no
# byte can arrive while the port is still cooked (or be echoed back as an answer).
stty -F /dev/ttyS1 raw -echo || fail "stty on /dev/ttyS1"
echo AECL-READY >&3

field() {
    # Reads `KEY VALUE...` and checks the key; the values land in $value.
    read -r key value <&3 || fail "request ended early"
    [ "$key" = "$1" ] || fail "expected $1, got $key"
}
decoded() {
    # Base64 to bytes; the x keeps trailing newlines through the command substitution.
    printf '%s' "$1" | base64 -d && printf x
}

read -r magic <&3 || fail "no request"
[ "$magic" = "AECL-REQUEST 1" ] || fail "unknown request header"
field CAP; cap=$value
field LIMITS; set -- $value; pids=$1; cpu=$2; files=$3; work=$4

mount -t tmpfs -o mode=0700 run /run || fail "mounting /run"
mount -t tmpfs -o "size=$work,mode=1777" tmp /tmp || fail "mounting /tmp"
mount -t tmpfs -o "size=$work,mode=0700,uid=1000,gid=1000" work /work || fail "mounting /work"
mkdir -p /run/aecl

# The command line after `su ... -c ... aecl-command`: `--`, the environment, then the
# argv, as the positional parameters of a shell that hands them to `env -i` (which takes
# words with `=` as variables up to the program: the host refuses a program name with
# `=`). Only variable names go through eval, never the values.
field ARGV; argc=$value
i=0
while [ "$i" -lt "$argc" ]; do
    read -r line <&3 || fail "argv ended early"
    arg=$(decoded "$line") || fail "argv $i is not base64"
    eval "arg_$i=\${arg%x}"
    i=$((i + 1))
done
field ENV; envc=$value
words="--"
i=0
while [ "$i" -lt "$envc" ]; do
    read -r line <&3 || fail "env ended early"
    var=$(decoded "$line") || fail "env $i is not base64"
    eval "env_$i=\${var%x}"
    words="$words \"\$env_$i\""
    i=$((i + 1))
done
i=0
while [ "$i" -lt "$argc" ]; do
    words="$words \"\$arg_$i\""
    i=$((i + 1))
done
field STDIN; length=$value
head -c "$length" <&3 | base64 -d > /run/aecl/stdin || fail "stdin is not base64"

# The command's stdout and stderr go through FIFOs to files written by root: the
# command's own limits (file size) never cut its output, and it cannot touch the files.
mkfifo /run/aecl/o /run/aecl/e || fail "mkfifo"
cat /run/aecl/o > /run/aecl/out &
out_pid=$!
cat /run/aecl/e > /run/aecl/err &
err_pid=$!
cd /work || fail "cd /work"
# `ulimit -n` and friends in the user's shell, then `env -i` with exactly the request's
# environment; the command replaces both (exec), so its exit status is su's.
eval "su -p -s /bin/sh aecl -c 'ulimit -u $pids && ulimit -t $cpu && ulimit -n $files && exec env -i \"\$@\"' \
    aecl-command $words" < /run/aecl/stdin > /run/aecl/o 2> /run/aecl/e 3>&-
code=$?
# Whatever the command left running is ended so that the FIFOs close.
su -s /bin/sh aecl -c 'kill -9 -1' > /dev/null 2>&1 3>&-
wait "$out_pid" "$err_pid"

{
    echo "AECL-ANSWER 1"
    echo "EXIT $code"
    echo "STDOUT $(wc -c < /run/aecl/out)"
    head -c "$cap" /run/aecl/out | base64
    echo "STDERR $(wc -c < /run/aecl/err)"
    head -c "$cap" /run/aecl/err | base64
    echo "AECL-END"
} >&3
# The last close of the port waits until its output has left the UART.
exec 3>&-
reboot -f
