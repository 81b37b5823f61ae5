"""``python -m compat run --workers N|auto [--graceful-timeout S] SCRIPT [ARGS...]``.

A pre-fork supervisor: it starts N copies of the unchanged program under
``compat run``; in each copy the listening sockets made through the asyncore
facade or the core's loop get ``SO_REUSEPORT`` (:mod:`compat.core.listen`),
so the kernel spreads new connections over the copies.

- A worker that dies is restarted, with a growing delay when workers keep
  dying quickly; after ``MAX_START_FAILURES`` deaths in a row before a worker
  listened, the supervisor stops everything and says why.
- SIGINT/SIGTERM are forwarded; each worker stops accepting, serves the
  connections it has to the end and exits; after ``--graceful-timeout``
  seconds the rest are killed. The supervisor exits with the workers' status.
- SIGHUP replaces the workers one by one: the new one listens before the old
  one stops accepting.

Each worker talks to the supervisor over a socket pair, one line per event:
``listen HOST PORT`` when a socket listens, ``stopped N`` when it stopped
accepting with N connections still queued (which Linux resets unless
``net.ipv4.tcp_migrate_req`` is 1). End of file tells a worker that its
supervisor is gone, and it stops the same way.
"""
import asyncio
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

from compat.core import listen

__all__ = ["requested", "main", "USAGE"]

USAGE = (
    "usage: python -m compat run --workers N|auto [--graceful-timeout SECONDS] "
    "SCRIPT [ARGS...] | -m MODULE [ARGS...]"
)
PREFIX = "compat run --workers"
REFUSED = 78  # a worker's status when its program cannot be shared (sysexits EX_CONFIG)
MAX_START_FAILURES = 5
LIVED = 10.0  # a worker that lived this long resets the back-off
READY_TIMEOUT = 30.0  # a rolling restart waits this long for a new worker to listen
_OPTIONS = ("--workers", "--graceful-timeout")


def _note(message: str) -> None:
    print(f"{PREFIX}: {message}", file=sys.stderr, flush=True)


# -- command line -------------------------------------------------------------


def requested(argv: List[str]) -> bool:
    """Whether a ``compat run`` command line asks for workers (options before the script)."""
    try:
        return _split(argv)[0] is not None
    except _Usage:
        return True  # main() says what is wrong


def _split(argv: List[str]) -> Tuple[Optional[Dict[str, str]], List[str]]:
    """(our options or None, the command line for each worker's ``compat run``)."""
    ours: Dict[str, str] = {}
    rest: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-m", "--") or not arg.startswith("-"):
            break
        name, eq, value = arg.partition("=")
        if name in _OPTIONS:
            if not eq:
                if i + 1 >= len(argv):
                    raise _Usage(f"{name} needs a value")
                value = argv[i + 1]
                i += 1
            ours[name] = value
        else:
            rest.append(arg)
        i += 1
    rest.extend(argv[i:])
    if "--workers" not in ours:
        if ours:
            raise _Usage("--graceful-timeout goes with --workers")
        return None, list(argv)
    return ours, rest


class _Usage(Exception):
    pass


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux; refused before this matters
        return os.cpu_count() or 1


def _parse(argv: List[str]) -> Tuple[int, float, List[str]]:
    ours, rest = _split(argv)
    assert ours is not None
    raw = ours["--workers"]
    if raw == "auto":
        count = usable_cpus()
    else:
        try:
            count = int(raw)
        except ValueError:
            raise _Usage(f"--workers takes a number or 'auto', not {raw!r}") from None
        if count < 1:
            raise _Usage(f"--workers must be at least 1, not {count}")
    raw = ours.get("--graceful-timeout", "30")
    try:
        grace = float(raw)
    except ValueError:
        raise _Usage(f"--graceful-timeout takes seconds, not {raw!r}") from None
    if not grace >= 0:
        raise _Usage(f"--graceful-timeout must be 0 or more, not {raw}")
    if not rest or rest[0] == "--" and len(rest) == 1:
        raise _Usage("no program to run")
    return count, grace, rest


def main(argv: List[str]) -> int:
    """Run the program of ``compat run ARGV`` in supervised worker processes."""
    try:
        count, grace, run_argv = _parse(argv)
    except _Usage as exc:
        print(f"{PREFIX}: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    reason = listen.supported()
    if reason is not None:
        _note(f"refused: {reason}; run the program without --workers")
        return 2
    if run_argv[0] not in ("-m", "--") and not run_argv[0].startswith("-") and not os.path.exists(run_argv[0]):
        print(f"compat run: no such file: {run_argv[0]}", file=sys.stderr)
        return 2
    return _Supervisor(count, grace, run_argv).run()


# -- the supervisor ----------------------------------------------------------


class _Worker:
    def __init__(self, slot: int, proc: "subprocess.Popen[bytes]", chan: socket.socket) -> None:
        self.slot = slot
        self.proc = proc
        self.chan = chan
        self.buf = b""
        self.started = time.monotonic()
        self.listening = False
        self.stopping = False
        self.retiring = False  # replaced by a rolling restart
        self.killed = False


class _Supervisor:
    def __init__(self, count: int, grace: float, run_argv: List[str]) -> None:
        self.count = count
        self.grace = grace
        self.run_argv = run_argv
        self.slots: List[Optional[_Worker]] = [None] * count
        self.failures = [0] * count
        self.start_at: Dict[int, float] = {}
        self.workers: Dict[int, _Worker] = {}  # pid -> worker, current and retiring
        self.sel = selectors.DefaultSelector()
        self.signals: List[int] = []
        self.stopping_since: Optional[float] = None
        self.status = 0
        self.gave_up = False
        self.restart_queue: List[int] = []
        self.restart_wait: Optional[Tuple[_Worker, _Worker, float]] = None  # new, old, deadline
        self.restart_reset = 0
        self.unacked: List[_Worker] = []  # retired, not yet known to have stopped accepting
        self.restarting = False

    # signals arrive through a wakeup socket, so the selector is the only wait.
    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.append(signum)

    def run(self) -> int:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
        old = {s: signal.signal(s, self._on_signal) for s in handled}
        old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        self.sel.register(wake_r, selectors.EVENT_READ, None)
        try:
            _note(f"starting {self.count} worker(s): {' '.join(self.run_argv)}")
            for slot in range(self.count):
                self._start(slot)
            while self.workers or (self.start_at and self.stopping_since is None):
                self._wait()
                self._handle_signals()
                self._reap()
                self._timers()
            return self.status
        finally:
            for w in list(self.workers.values()):  # only after an error of our own
                w.proc.kill()
                w.proc.wait()
            for w in list(self.workers.values()):
                w.chan.close()
            signal.set_wakeup_fd(old_fd)
            for s, h in old.items():
                signal.signal(s, h)
            self.sel.close()
            wake_r.close()
            wake_w.close()

    def _start(self, slot: int) -> _Worker:
        ours, theirs = socket.socketpair()
        cmd = [sys.executable]
        cmd += ["-W" + w for w in sys.warnoptions]
        cmd += ["-m", "compat.cli.workers", "--child", str(theirs.fileno()), str(slot), repr(self.grace)]
        cmd += self.run_argv
        env = dict(os.environ, COMPAT_WORKER=str(slot))
        try:
            proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), start_new_session=True, env=env)
        finally:
            theirs.close()
        ours.setblocking(False)
        w = _Worker(slot, proc, ours)
        self.slots[slot] = w
        self.workers[proc.pid] = w
        self.sel.register(ours, selectors.EVENT_READ, w)
        return w

    def _wait(self) -> None:
        now = time.monotonic()
        deadlines = list(self.start_at.values())
        if self.stopping_since is not None and now < self.stopping_since + self.grace:
            deadlines.append(self.stopping_since + self.grace)  # past it, the kills are sent
        if self.restart_wait is not None:
            deadlines.append(self.restart_wait[2])
        # Children are also polled now and then: a SIGCHLD may coincide with another signal.
        timeout = max(0.0, min(deadlines, default=now + 1.0) - now)
        for key, _ in self.sel.select(min(timeout, 1.0)):
            if key.data is None:
                try:
                    while key.fileobj.recv(512):  # type: ignore[union-attr]
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
            else:
                self._read(key.data)

    def _read(self, w: _Worker) -> None:
        try:
            data = w.chan.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(w.chan)
            return
        w.buf += data
        while b"\n" in w.buf:
            line, w.buf = w.buf.split(b"\n", 1)
            words = line.decode("ascii", "replace").split()
            if words and words[0] == "listen":
                if not w.listening:
                    w.listening = True
                    _note(f"worker {w.slot} (pid {w.proc.pid}) listening on {' '.join(words[1:])}")
            elif words and words[0] == "stopped":
                queued = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
                if w.retiring:
                    self.restart_reset += queued
                    self._acked(w)
                elif queued:
                    _note(
                        f"worker {w.slot} stopped accepting; {queued} connection(s) it had not accepted "
                        "yet were reset by the kernel"
                    )

    def _handle_signals(self) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum in (signal.SIGINT, signal.SIGTERM):
                self._shutdown(signum)
            elif signum == signal.SIGHUP and self.stopping_since is None:
                if self.restarting:
                    _note("SIGHUP: a restart is already under way")
                else:
                    _note(f"SIGHUP: restarting the {self.count} worker(s) one by one")
                    self.restarting = True
                    self.restart_queue = list(range(self.count))
                    self.restart_reset = 0
                    self._next_restart()

    def _shutdown(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.stopping_since is not None:
            _note(f"{name} again: killing the workers now")
            for w in self.workers.values():
                w.proc.kill()
            return
        self.stopping_since = time.monotonic()
        self.start_at.clear()
        self.restart_queue = []
        self.restart_wait = None
        self.restarting, self.unacked = False, []
        live = [w for w in self.workers.values() if not w.stopping]
        _note(f"{name}: stopping {len(live)} worker(s), waiting up to {self.grace:g}s for their connections")
        for w in live:
            self._stop(w, signum)

    def _stop(self, w: _Worker, signum: int = signal.SIGTERM) -> None:
        w.stopping = True
        try:
            w.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def _reap(self) -> None:
        for pid, w in list(self.workers.items()):
            code = w.proc.poll()
            if code is None:
                continue
            del self.workers[pid]
            try:
                self.sel.unregister(w.chan)
            except (KeyError, ValueError):
                pass
            w.chan.close()
            self._exited(w, code)

    def _exited(self, w: _Worker, code: int) -> None:
        status = 128 - code if code < 0 else code
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        lived = time.monotonic() - w.started
        if w.stopping:
            _note(f"worker {w.slot} (pid {w.proc.pid}) {how}")
            self._acked(w)
            if not w.retiring and status and not self.status:
                self.status = status
            return
        if w.retiring:  # died on its own while its replacement starts
            _note(f"worker {w.slot} (pid {w.proc.pid}) {how} while being replaced")
            self._acked(w)
            if self.restart_wait is not None and self.restart_wait[1] is w:
                self.restart_wait = None
                self._next_restart()
            return
        if self.slots[w.slot] is w:
            self.slots[w.slot] = None
        if self.restart_wait is not None and self.restart_wait[0] is w:
            _note(
                f"worker {w.slot} (pid {w.proc.pid}) {how} before listening; restart abandoned, "
                "the old workers keep serving"
            )
            old = self.restart_wait[1]
            old.retiring = False
            self.slots[w.slot] = old
            self.restart_wait = None
            self.restart_queue = []
            self.restarting, self.unacked = False, []
            return
        if self.stopping_since is not None or self.gave_up:
            _note(f"worker {w.slot} (pid {w.proc.pid}) {how}")
            if status and not self.status:
                self.status = status
            return
        if code == REFUSED:
            _note(f"worker {w.slot} (pid {w.proc.pid}) refused to run (above); stopping")
            self._give_up(2)
            return
        _note(f"worker {w.slot} (pid {w.proc.pid}) {how} after {lived:.1f}s")
        if lived >= LIVED:
            self.failures[w.slot] = 0
        self.failures[w.slot] += 1
        if not w.listening and self.failures[w.slot] >= MAX_START_FAILURES:
            _note(
                f"giving up: worker {w.slot} died {self.failures[w.slot]} times in a row before it "
                "listened. If its error says 'Address already in use', the program listens "
                "through something other than compat's asyncore or the core's asyncio loop "
                "(socketserver, a plain socket, an asyncio server on asyncio.run()'s loop rather than "
                "compat.run()'s), which gets no SO_REUSEPORT"
            )
            self._give_up(status or 1)
            return
        delay = min(0.1 * 2 ** (self.failures[w.slot] - 1), 5.0)
        self.start_at[w.slot] = time.monotonic() + delay

    def _give_up(self, status: int) -> None:
        self.gave_up = True
        self.status = status
        self.start_at.clear()
        self.restart_queue = []
        self.restart_wait = None
        self.restarting, self.unacked = False, []
        self.stopping_since = time.monotonic()
        for w in self.workers.values():
            if not w.stopping:
                self._stop(w)

    def _timers(self) -> None:
        now = time.monotonic()
        for slot, when in list(self.start_at.items()):
            if when <= now:
                del self.start_at[slot]
                self._start(slot)
        if self.stopping_since is not None and now >= self.stopping_since + self.grace:
            for w in self.workers.values():
                if w.proc.poll() is None and not w.killed:
                    _note(f"worker {w.slot} (pid {w.proc.pid}) still serving after {self.grace:g}s: killing it")
                    w.proc.kill()
                    w.killed = True
        if self.restart_wait is not None:
            new, old, deadline = self.restart_wait
            if new.listening or now >= deadline:
                if not new.listening:
                    _note(f"worker {new.slot} has not listened after {READY_TIMEOUT:g}s; retiring the old one anyway")
                self.restart_wait = None
                self.unacked.append(old)
                self._stop(old)
                self._next_restart()

    def _next_restart(self) -> None:
        while self.restart_queue:
            slot = self.restart_queue.pop(0)
            old = self.slots[slot]
            if old is None:
                continue  # being restarted after a death anyway
            old.retiring = True
            new = self._start(slot)
            self.restart_wait = (new, old, time.monotonic() + READY_TIMEOUT)
            return
        self._acked(None)

    def _acked(self, w: Optional[_Worker]) -> None:
        # The restart is done when every retired worker has stopped accepting:
        # only then is the count of reset connections complete.
        if w in self.unacked:
            self.unacked.remove(w)
        if self.restarting and not self.unacked and not self.restart_queue and self.restart_wait is None:
            self.restarting = False
            _note(f"restart done: {self._restart_note()}")

    def _restart_note(self) -> str:
        n = self.restart_reset
        if _migrate_req():
            return (
                f"{n} connection(s) queued on the retired workers' listening sockets were "
                "handed to the new ones (net.ipv4.tcp_migrate_req=1); none refused"
            )
        return (
            f"{n} new connection(s) refused (reset): they were queued on a retiring worker's "
            "listening socket, not yet accepted, when it closed, and Linux resets those "
            "unless net.ipv4.tcp_migrate_req=1 (Linux 5.14+)"
        )


def _migrate_req() -> bool:
    try:
        with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


# -- in each worker ------------------------------------------------------------


def _queued(sock: socket.socket) -> int:
    """Connections waiting in a listening socket's accept queue (TCP_INFO tcpi_unacked)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)  # type: ignore[attr-defined]
    except (OSError, AttributeError):
        return 0
    # 8 one-byte fields, then rto, ato, snd_mss, rcv_mss, unacked: for a
    # listening socket the kernel reports its accept queue length as unacked.
    return struct.unpack_from("I", info, 24)[0] if len(info) >= 28 else 0


class _WorkerSide:
    def __init__(self, chan: socket.socket, grace: float) -> None:
        self.chan = chan
        self.grace = grace
        self.lock = threading.Lock()
        self.pending: List[bytes] = []
        self.listeners: List[socket.socket] = []
        self.stopping = False

    def send(self, line: str) -> None:
        # Only the main thread sends, but a signal handler may interrupt a
        # send in progress: it then leaves its line to that send, never waits.
        self.pending.append(line.encode("ascii", "replace") + b"\n")
        while self.pending and self.lock.acquire(blocking=False):
            try:
                while self.pending:
                    data = self.pending.pop(0)
                    try:
                        self.chan.sendall(data)
                    except OSError:
                        self.pending.clear()  # the supervisor is gone; the watcher stops us
            finally:
                self.lock.release()

    def listened(self, sock: socket.socket) -> None:
        if self.stopping:
            raise SystemExit(0)  # told to stop before serving anyone
        self.listeners.append(sock)
        host, port = sock.getsockname()[:2]
        self.send(f"listen {host} {port}")

    def on_signal(self, signum: int, frame: object) -> None:
        if self.stopping:
            return  # the supervisor kills after its graceful timeout
        if not self.listeners:
            # Nothing listens through compat, so there is nothing to drain:
            # the signal does what it would do without compat.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.stopping = True
        try:
            loop: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        # Closing channels is for the loop's thread between callbacks, not
        # at whichever bytecode the signal interrupted.
        if loop is not None:
            loop.call_soon_threadsafe(self.stop_accepting)
        else:
            self.stop_accepting()

    def stop_accepting(self) -> None:
        from compat.core import shared_map

        queued = 0
        for sock in self.listeners:
            if sock.fileno() >= 0:
                queued += _queued(sock)
        for obj in list(shared_map.values()):
            if getattr(obj, "accepting", False):
                try:
                    obj.close()
                except OSError:
                    pass
        self.send(f"stopped {queued}")

    def watch(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        try:
            while self.chan.recv(64):
                pass
        except OSError:
            pass
        # The supervisor is gone: stop as if told to, and keep its graceful timeout.
        if not self.stopping:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(self.grace)
        _note(f"worker pid {os.getpid()}: supervisor gone and still serving after {self.grace:g}s; exiting")
        os._exit(1)


def _child(argv: List[str]) -> int:
    fd, slot, grace, run_argv = int(argv[0]), argv[1], float(argv[2]), argv[3:]
    side = _WorkerSide(socket.socket(fileno=fd), grace)
    signal.signal(signal.SIGTERM, side.on_signal)
    signal.signal(signal.SIGINT, side.on_signal)
    try:
        listen.share_port(True, notify=side.listened)
    except listen.ListenRefused as exc:
        _note(f"refused: {exc.message}")
        return REFUSED
    threading.Thread(target=side.watch, name="compat-worker-watch", daemon=True).start()
    from compat.cli.run import main as run_main

    try:
        return run_main(run_argv)
    except listen.ListenRefused as exc:
        _note(f"worker {slot} (pid {os.getpid()}) refused: {exc.message}")
        return REFUSED
    except asyncio.CancelledError:
        if side.stopping:
            return 0  # an asyncio server's serve_forever() ends so when its server closes
        raise


if __name__ == "__main__":
    if sys.argv[1:2] != ["--child"]:
        sys.exit(f"{PREFIX}: this module runs as a worker of `python -m compat run --workers N`")
    sys.exit(_child(sys.argv[2:]))
