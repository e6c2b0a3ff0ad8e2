"""``bluezone.testing.free_port``: a port handed to one process is never handed to another.

The CI lanes run side by side, and each starts servers on ports it asked the
kernel for. Before the reservation, two lanes could be handed the same number
between "port 0 released" and "server bound", and a phone then synced against
the other lane's server. These tests make the kernel repeat itself on purpose.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from bluezone import testing


class RepeatingSocket(socket.socket):
    """A socket whose ``bind(port 0)`` is given the ports of ``script`` in turn,
    the way a kernel may hand a released port out again."""

    script: list[int] = []

    def bind(self, address):  # type: ignore[override]
        host, port = address
        if port == 0 and self.script:
            return super().bind((host, self.script.pop(0)))
        return super().bind(address)


@pytest.fixture
def repeating_kernel(monkeypatch):
    monkeypatch.setattr(testing.socket, "socket", RepeatingSocket)
    yield RepeatingSocket.script
    RepeatingSocket.script = []


def test_a_port_is_not_handed_out_twice_in_one_process(repeating_kernel):
    first = testing.free_port()
    repeating_kernel[:] = [first, first]
    second = testing.free_port()
    assert second != first
    assert repeating_kernel == []  # both repeats were asked for and refused


def test_a_port_another_process_reserved_is_skipped(repeating_kernel, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from bluezone.testing import free_port
            print(free_port(), flush=True)
            sys.stdin.read()  # hold the reservation until the test closes stdin
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        theirs = int(holder.stdout.readline())
        repeating_kernel[:] = [theirs]
        mine = testing.free_port()
        assert mine != theirs
        assert repeating_kernel == []
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_reservation_ends_with_its_process(repeating_kernel):
    """The kernel drops the lock when the holder exits, killed or not: the
    folder never fills with ports nobody can have."""
    holder = subprocess.run(
        [sys.executable, "-c", "import os; from bluezone.testing import free_port; "
                               "print(free_port(), flush=True); os._exit(9)"],
        capture_output=True, text=True, timeout=60)
    released = int(holder.stdout)
    repeating_kernel[:] = [released]
    assert testing.free_port() == released


def test_the_reservations_are_private_to_their_user():
    folder = testing.port_reservations()
    testing.free_port()
    assert folder.stat().st_mode & 0o077 == 0
