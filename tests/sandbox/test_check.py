"""`devbot sandbox check`: every promise proved live on docker and bwrap, and able to fail."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from devbot.sandbox import LocalSandbox
from devbot.sandbox.base import CommandResult
from devbot.sandbox.check import _proc_read_only, _seccomp, run_checks
from tests.fixtures.sandbox import TEST_LIMITS, SandboxFactory

NEW_PROMISES = (
    "workspace writable, files not owned by root on the host"
    if os.geteuid() == 0
    else "workspace writable, files owned by you",
    "/proc/sys and /proc/sysrq-trigger read-only",
    "seccomp filter active",
    f"disk limit ({TEST_LIMITS.disk_mb} MB per command)",
)


def test_every_promise_holds_on_an_isolated_backend(isolated_sandbox: SandboxFactory) -> None:
    probes = run_checks(isolated_sandbox(), TEST_LIMITS)
    assert [probe for probe in probes if not probe.passed] == []
    promises = [probe.promise for probe in probes]
    for promise in NEW_PROMISES:
        assert promise in promises


def _local(tmp_path: Path) -> Callable[..., CommandResult]:
    sandbox = LocalSandbox()
    return lambda command, timeout_s=60.0: sandbox.run(command, tmp_path, timeout_s)


def test_the_seccomp_probe_fails_where_no_filter_is_installed(tmp_path: Path) -> None:
    probe = _seccomp(_local(tmp_path))
    assert not probe.passed
    assert "seccomp mode 0" in probe.detail


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may open /proc/sys files for writing")
def test_the_proc_probe_fails_where_proc_sys_is_writable(tmp_path: Path) -> None:
    probe = _proc_read_only(_local(tmp_path))
    assert not probe.passed
    assert "writable /proc/sys/kernel/core_pattern" in probe.detail
