#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (README.md here).

Run from anywhere: python3 tests/fuzz/gen-seeds.py.  The seeds are
committed; this script documents how each was made and regenerates them
after a format change (it replaces the files it writes and leaves others,
such as reproducers of fixed bugs, alone).  Protobuf messages are encoded
by hand (no protobuf module needed); field numbers follow
schemas/control.proto.
"""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), 'rb') as f:
        return f.read()


# ---- config: modules.conf [NUL policy] -------------------------------------

def config_seeds():
    put('config', 'example', read('examples/modules.conf'))
    # tests/unit/test-config.c, test_good (its policy as the second part)
    put('config', 'test-good', (
        '[supervisor]\nheartbeat_interval_ms = 50\nhang_timeout_ms = 700\n'
        'shutdown_timeout_ms = 2000\ncontrol_socket = /run/uipc/x.sock\nlog_level = debug\n\n'
        '[module log]\nexec = mod\nprovides = log\n\n'
        '[module kv]\nexec = /bin/true\nargs = --shards 4\nenv = KV_CACHE=64M LANG=C.UTF-8\n'
        'provides = kv, kv2\nconnects = log:128x1024\nrestart = always\nmax_restarts = 7\n'
        'restart_window_s = 30\nafter = log\npolicy = fuzz.policy\n'
        'capabilities = net_bind_service, CAP_SYS_NICE\nuser = nobody\n'
        'namespaces = pid, mount, net, ipc, uts, user\n'
        'rlimits = memory=256M nofile=64, nproc=16 cpu=infinity core=0\n'
        'hang_timeout_ms = 5000 ; per module\nbackoff_ms = 10\nbackoff_max_ms = 200\n'
        '\0@default kill\nread\nsocket: arg0 == AF_UNIX\n'))
    put('config', 'minimal', '[module a]\nexec = /bin/true\n')
    put('config', 'chain', (
        '# three modules in a line, user and group by number\n'
        '[module a]\nexec = mod\nprovides = x, y\nrestart = never\n'
        '[module b]\nexec = kv-server\nconnects = x:16x64\nprovides = z\nafter = a\n'
        'user = 65534\ngroup = 65534\n'
        '[module c]\nexec = echo-server\nconnects = y, z:1x16\nafter = a, b\n'
        'policy = policies/echo.policy\nrlimits = core=infinity memory=1G\n'))
    put('config', 'bad-cycle', (
        '[module a]\nexec = mod\nafter = c\n[module b]\nexec = mod\nafter = a\n'
        '[module c]\nexec = mod\nafter = b\n'))
    put('config', 'bad-policy', (
        '[module a]\nexec = mod\npolicy = fuzz.policy\n'
        '\0@default errno EPERM\n@include policies/base.policy\nread\nsokcet\n'))


# ---- policy: main [NUL a.policy [NUL b.policy [NUL c.policy]]] -------------

def policy_seeds():
    for name in ('base', 'kv', 'echo', 'demo-client', 'sanitizer'):
        put('policy', name, read('policies/%s.policy' % name))
    # tests/unit/test-policy.c, test_good, with its includes as parts
    put('policy', 'test-good', (
        '# a good policy: every kind of statement\n@default kill\n\n   \t\n'
        '@include a.policy\nread\n\twrite   # with a comment\nsocket: arg0 == AF_UNIX\n'
        'mmap: arg2 & PROT_EXEC == 0\nopenat: arg2 == O_RDONLY|O_CLOEXEC\n'
        'fcntl: arg1 == F_GETFD || arg1 == F_SETFD && arg2 == FD_CLOEXEC || arg1 == 3\n'
        'futex: arg1 == FUTEX_WAIT_BITSET|FUTEX_PRIVATE_FLAG && arg3 >= 0x10 && arg5 != 0\n'
        'prlimit64: arg2 == 0 || arg0 <= 1 && arg1 > 2 || arg1 < 100\n'
        'ioctl: errno ENOTTY\ngetuid: errno 13   # a number\nexit_group\n# the end\n'
        '\0# included\n\ngetpid\n@include b.policy\n'
        '\0execve\nclose\n'))
    put('policy', 'errno-default', '@default errno EPERM\nread\nwrite: arg0 == 1 || arg0 == 2\n')
    put('policy', 'conflict', '@default log\n@include a.policy\ndup: errno EBADF\n\0dup\n')
    # libseccomp 2.5.4 leaks when these rules merge (suppressed, fuzz-fence.c)
    put('policy', 'libseccomp-merge-leak',
        '\nfcntl: arg1 == F_GETFD || arg1 == F_SETFD && arg2==FD_CLOEXEC # \nfcntl: arg2 == F_GETFD || d\n@')
    put('policy', 'cycle', '@include a.policy\n\0@include b.policy\n\0@include main.policy\n')


# ---- control: first byte picks the mode (fuzz-control.c) --------------------

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def msg(*fields):
    return b''.join(fields)


def s(num, text):
    return field(num, 2, text.encode())


def module_req(name):
    return msg(s(1, name))


REQUESTS = {
    'status': field(1, 2, b''),
    'stats': field(2, 2, b''),
    'restart': field(3, 2, module_req('client')),
    'stop': field(4, 2, module_req('spin')),
    'start': field(5, 2, module_req('kv')),
    'kill': field(6, 2, msg(s(1, 'client'), field(2, 0, 15))),
    'kill-default': field(6, 2, module_req('spin')),
    'fault': field(7, 2, msg(s(1, 'spin'), s(2, 'slow'), field(3, 0, 250))),
    'drain': field(8, 2, b''),
    'drain-off': field(8, 2, field(1, 0, 1)),
    'unknown-module': field(5, 2, module_req('nobody')),
    'empty': b'',
}


def frame(body):
    return struct.pack('<I', len(body)) + body


def reply_sample():
    mod = msg(s(1, 'kv'), s(2, 'ready'), field(3, 0, 42), field(4, 0, 1234), field(5, 0, 1),
              s(6, 'exited with code 1'), s(7, 'hung'), field(8, 0, 3))
    chan = msg(s(1, 'kv'), s(2, 'client'), s(3, 'kv'), field(4, 0, 64), field(5, 0, 4096),
               field(6, 0, 1000), field(7, 0, 990), field(8, 0, 5), field(11, 0, 2),
               field(12, 0, 62), field(14, 0, 2047), field(15, 0, 65535))
    return msg(field(1, 0, 1), field(3, 2, mod), field(4, 2, chan))


def control_seeds():
    for name, body in REQUESTS.items():
        put('control', 'direct-' + name, b'\x01' + body)
    # every request on one connection, whole frames at once
    put('control', 'stream-all', b'\x00\xff' + b''.join(frame(b) for b in REQUESTS.values()))
    # status and stats byte by byte
    put('control', 'stream-bytewise', b'\x00\x00' + frame(REQUESTS['status']) + frame(REQUESTS['stats']))
    # a frame over 1 MiB is refused; a body that does not decode is refused
    put('control', 'stream-toolarge', b'\x00\x07' + struct.pack('<I', (1 << 20) + 1) + b'x' * 8)
    put('control', 'stream-garbage', b'\x00\x03' + frame(b'\xff\xff\xff\xff') + frame(REQUESTS['status']))
    put('control', 'stream-partial', b'\x00\x01' + frame(REQUESTS['stats'])[:5])
    # several clients: each chunk is led by a byte that names the client
    # (b % clients) and the chunk's length ((b >> 3) + 1; 32: half-close)
    def lead(peer, length, clients):
        return bytes([next(b for b in range(256) if b % clients == peer and (b >> 3) + 1 == length)])
    status, stats = frame(REQUESTS['status']), frame(REQUESTS['stats'])
    put('control', 'clients-three', b'\x04\x02' + lead(0, len(status), 3) + status +
        lead(1, 3, 3) + stats[:3] + lead(2, 4, 3) + struct.pack('<I', 0xffffffff) +
        lead(1, len(stats) - 3, 3) + stats[3:] + lead(0, 32, 3) + lead(1, len(status), 3) + status)
    put('control', 'recv-replies', b'\x02\x00' + frame(reply_sample()) + frame(msg(s(2, 'no module named x'))))
    put('control', 'recv-requests', b'\x02\x01' + frame(REQUESTS['kill']) + frame(REQUESTS['status']))
    # scribbled statistics: counts, then a histogram with a huge bucket
    stats = struct.pack('<5Q', 100, 90, 5, 3, 2) + struct.pack('<2Q', 7, 1)
    put('control', 'stats-small', b'\x03' + stats + struct.pack('<8Q', *range(1, 9)))
    put('control', 'stats-saturated', b'\x03' + b'\xff' * 8 * 7 + struct.pack('<4Q', 1, 1 << 63, 1 << 63, 5))


# ---- region: first byte picks the sub-target (fuzz-region.c) ---------------

SIDE, FIFO_SH, ENT, HDR = 1664, 256, 16, 136


def align(v, a):
    return (v + a - 1) // a * a


def layout(service, slots, slot_size):
    """uipc__region_layout, for a rawmap seed."""
    fifo = 2
    while fifo < 2 * slots:
        fifo <<= 1
    stride = align(32 + slot_size, 64)
    off = align(HDR, 128)
    side = [off, off + SIDE]
    off += 2 * SIDE
    fifos = []
    for _ in range(2):
        fifos.append(off)
        off += align(FIFO_SH + fifo * ENT, 128)
    size = align(off + slots * stride, 4096)
    svc = service.encode().ljust(64, b'\0')
    hdr = struct.pack('<IHHIIIIQ2Q2QQ64s', 0x43504955, 2, HDR, slots, slot_size, stride, fifo, size,
                      side[0], side[1], fifos[0], fifos[1], off, svc)
    return hdr, size


def name(text):
    return bytes([len(text) - 1]) + text.encode()


# client ops (enum op_client) and server ops (enum op_server)
OC = {k: i for i, k in enumerate(
    'UP CALL TAKE ANSWER RAW WORDS SLOT REAP DELIVER EXPIRE RECLAIM EPOCH REATTACH SYNC'.split())}
OS = {k: i for i, k in enumerate('UP SUBMIT RAW WORDS SLOT PROCESS COMPLETE CONSUME RECLAIM'.split())}


def region_seeds():
    # 0 check: name, slots (u32), slot size (u32), no size flip, nothing XOR-ed
    put('region', 'check-default', b'\x00' + name('echo') + struct.pack('<II', 63, 4096 - 16) + b'\x00')
    put('region', 'check-big', b'\x00' + name('kv') + struct.pack('<II', 65535, 1024) + b'\x00')
    # 1 map: name, slots (u8), slot size (u16), how
    put('region', 'map-created', b'\x01' + name('echo') + b'\x07' + struct.pack('<H', 240) + b'\x00')
    put('region', 'map-own-sealed', b'\x01' + name('kv') + b'\x03' + struct.pack('<H', 0) + b'\x07\x00\x00')
    put('region', 'map-unsealed', b'\x01' + name('kv') + b'\x03' + struct.pack('<H', 0) + b'\x01\x00\x00')
    hdr, size = layout('echo', 4, 64)
    put('region', 'rawmap-valid', b'\x02' + hdr)
    # 3 fifo: size 2<<2 = 8, tail, head, then ops: produce 3, consume 4, publish
    ops = (b'\x03' + struct.pack('<III', 1, 7, 0)) * 3 + b'\x04' + b'\x01' * 4 + b'\x02'
    put('region', 'fifo-roundtrip', b'\x03\x02' + struct.pack('<II', 0, 0) + ops)
    put('region', 'fifo-wrapped', b'\x03\x01' + struct.pack('<II', 0xfffffffe, 0xfffffffe) + ops)
    # 4 manifest
    put('region', 'manifest', b'\x04\x7d' + b'S:echo:3:4,C:kv:5:6,C:log.x-1:17:18')
    put('region', 'manifest-dup', b'\x04\x02' + b'C:kv:5:6,C:kv:7:8')
    # 5 client: slots-1, size shift, epoch selector, then ops (bytes in the
    # order fuzz-region.c reads them)
    def call_desc(how=0, timeout=0, length=5, fill_err=0, opcode=1):
        out = bytes([how])
        if how & 1:
            out += bytes([timeout])
        out += struct.pack('<H', length) if how & 2 else bytes([length])
        if how & 4:
            out += bytes([fill_err])
        return out + bytes([opcode])

    def call(**kw):
        return bytes([OC['CALL']]) + call_desc(**kw)

    def answer(how, k=0, slot=0, gen=0, status=7, rep_len=5):
        """how & 1: for the k-th call taken; else for (slot, gen)."""
        out = bytes([OC['ANSWER'], how])
        out += bytes([k]) if how & 1 else bytes([slot]) + struct.pack('<I', gen)
        out += struct.pack('<i', status) if how & 4 else bytes([status & 0xff])
        return out + (struct.pack('<I', rep_len) if how & 8 else struct.pack('<H', rep_len))

    up, take = bytes([OC['UP']]), bytes([OC['TAKE']])
    reap, deliver = bytes([OC['REAP']]), bytes([OC['DELIVER']])
    honest = up + call() + take + answer(1 | 64 | 128) + reap + deliver
    put('region', 'client-honest', b'\x05\x03\x02\x01' + honest)
    put('region', 'client-two-async', b'\x05\x01\x00\x01' + up + call(how=1, timeout=16, length=1) +
        call(length=2, opcode=2) + take + take + answer(1 | 64, k=1) + answer(1 | 64, k=0) + reap + deliver +
        bytes([OC['EXPIRE']]) + struct.pack('<H', 0xffff) + deliver)
    put('region', 'client-timeout-late', b'\x05\x01\x00\x01' + up + call(how=1, timeout=1) + take +
        bytes([OC['EXPIRE']]) + struct.pack('<H', 100) + deliver + answer(1 | 64) + reap + deliver +
        call(length=3) + deliver)
    put('region', 'client-dup-answer', b'\x05\x00\x00\x01' + honest + answer(1 | 64) + reap + deliver)
    put('region', 'client-peer-died', b'\x05\x02\x01\x01' + up + call() + take + bytes([OC['RECLAIM']]) +
        reap + deliver + bytes([OC['REATTACH']]) + answer(1 | 64) + reap + deliver)
    put('region', 'client-bad-stamp', b'\x05\x02\x01\x01' + up + call() +
        bytes([OC['RAW'], 1, 0]) + struct.pack('<IIII', 0xdead, 0, 1, 0) + reap + deliver)
    put('region', 'client-bad-reply-len', b'\x05\x02\x01\x01' + up + call() + take +
        answer(1 | 8 | 64, rep_len=1 << 20) + reap + deliver)
    put('region', 'client-chained', b'\x05\x07\x00\x01' + up + call(how=0x18) + take + answer(1 | 64) +
        reap + deliver + call_desc(length=2, opcode=3) + take + answer(1 | 64, k=1) + reap + deliver)
    # a sync call whose (peer-died) completion is already there, then one
    # that times out; the first free slot is 0 and its next generation 1
    put('region', 'client-sync', b'\x05\x01\x00\x01' + up + answer(32 | 64, slot=0, gen=1) +
        bytes([OC['SYNC'], 0, 4]) + bytes([OC['SYNC'], 0, 4]) + reap + deliver)
    # slot 0 left SERVING{9} by a previous incarnation: quarantined, then
    # freed by its completion
    put('region', 'client-quarantine', b'\x05\x03\x00\x01' + bytes([OC['SLOT'], 0, 0]) +
        struct.pack('<I', 9) + b'\x02' + up + answer(64, slot=0, gen=9, status=3, rep_len=1) + reap +
        call() + deliver)
    # 6 server: slots-1, size shift, epoch selector, then ops; the handler
    # reads its own bytes (how, reply length, status) when PROCESS runs it
    sup, sproc = bytes([OS['UP']]), bytes([OS['PROCESS']])

    def submit(slot, gen, req_len, how=0):
        return bytes([OS['SUBMIT'], how, slot, gen, 9]) + struct.pack('<H', req_len)
    put('region', 'server-honest', b'\x06\x03\x02\x01' + sup + submit(0, 1, 20) + sproc +
        b'\x00' + struct.pack('<H', 12) + b'\x00' + bytes([OS['CONSUME']]))
    put('region', 'server-deferred', b'\x06\x03\x02\x01' + sup + submit(1, 1, 3) + submit(2, 1, 0) + sproc +
        b'\x02' + struct.pack('<H', 1) + b'\x05' + b'\x00' + struct.pack('<H', 0) + b'\x00' +
        bytes([OS['COMPLETE'], 1]) + struct.pack('<I', 3) + bytes([OS['CONSUME']]))
    put('region', 'server-twice', b'\x06\x03\x02\x01' + sup + submit(0, 1, 4) + submit(0, 1, 4) + sproc +
        b'\x02' + struct.pack('<H', 0) + b'\x00')
    put('region', 'server-stale-epoch', b'\x06\x03\x02\x01' + sup + submit(0, 1, 4, 8) + struct.pack('<I', 76) +
        sproc + bytes([OS['RECLAIM']]))
    # 7 reclaim: how, slots-1, size shift, then both FIFOs' words and entries
    ent = struct.pack('<IIII', 1, 0, 5, 0) + struct.pack('<IIII', 2, 1, 5, 0)
    fifo = struct.pack('<II', 2, 0) + ent + b'\x00' * 16 * 2
    owns = struct.pack('<QQ', 5 << 32 | 1, 5 << 32 | 2)
    put('region', 'reclaim-server', b'\x07\x01\x01\x00' + fifo + fifo + owns + struct.pack('<III', 9, 0, 0))
    put('region', 'reclaim-client', b'\x07\x00\x01\x00' + fifo + fifo + owns)


def bridge_seeds():
    """uipc-bridge frames (tools/bridge-wire.h): header, then by type."""
    def hdr(t, outcome, session, ident):
        return struct.pack('<IBBHQQ', 0x31524255, t, outcome, 0, session, ident)
    names = [b'kv', b'echo']
    hello = hdr(1, 0, 0, 7) + struct.pack('<H', len(names)) + b''.join(bytes([len(n)]) + n for n in names)
    put('bridge', 'hello', hello)
    put('bridge', 'call', hdr(2, 0, 7, 1) + struct.pack('<HII', 0, 3, 500) + b'payload')
    put('bridge', 'reply', hdr(3, 2, 7, 1) + struct.pack('<i', -10001) + b'reply')
    put('bridge', 'ping', hdr(4, 0, 7, 123456789))


if __name__ == '__main__':
    bridge_seeds()
    config_seeds()
    policy_seeds()
    control_seeds()
    region_seeds()
