# The service manager's end of NOTIFY_SOCKET, for the notify tests (Node cannot bind a unix datagram
# socket). Like systemd it reads each datagram with the sender's credentials and file descriptors,
# matches the message to the sender by pid (systemd reads /proc/<pid>/cgroup, so a sender that has
# exited by then is not matched and its message is dropped), and answers BARRIER=1 by closing the
# pipe that came with it.
# Usage: python3 fake-systemd-notify.py SOCKET DELAY_MS LOG  (SOCKET may be @abstract)
# Prints "bound", then appends one JSON line per datagram to LOG: {"pid", "message", "accepted", "fds"},
# written before the barrier's pipe is closed, so LOG is complete once a systemd-notify has returned.
import array
import json
import os
import socket
import sys
import time

path, delay_ms, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = open(log_path, 'a', buffering=1)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
if path.startswith('@'):
    sock.bind('\0' + path[1:])
else:
    sock.bind(path)
    os.chmod(path, 0o666)  # the sender may run as another user
print('bound', flush=True)


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
        return state != 'Z'
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


while True:
    data, ancillary, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    fds, pid = [], None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            a = array.array('i')
            a.frombytes(payload[: len(payload) - len(payload) % a.itemsize])
            fds.extend(a)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(payload[:4], sys.byteorder)
    time.sleep(delay_ms / 1000)  # a busy service manager: the window in which a sender may exit
    message = data.decode('utf-8', 'replace')
    log.write(json.dumps({'pid': pid, 'message': message, 'accepted': pid is not None and alive(pid), 'fds': len(fds)}) + '\n')
    for fd in fds:
        os.close(fd)
