"""The seccomp program generator: its shape, and what it decides, run in a small BPF emulator."""

from __future__ import annotations

import errno
import re
import struct
from pathlib import Path

import pytest

from devbot.sandbox import seccomp
from devbot.sandbox.seccomp import (
    AUDIT_ARCH,
    BPF_JEQ_K,
    BPF_JGE_K,
    BPF_JSET_K,
    BPF_LD_W_ABS,
    BPF_RET_K,
    OFFSET_ARCH,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS,
    SYSCALLS,
    UnsupportedArchitecture,
    filter_program,
)

EPERM = SECCOMP_RET_ERRNO | errno.EPERM
ENOSYS = SECCOMP_RET_ERRNO | errno.ENOSYS
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
CLONE_THREAD_FLAGS = 0x003D0F00
SIGCHLD = 17
HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


def run_filter(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Evaluate a classic-BPF seccomp program on one call, as the kernel would."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    instructions = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    accumulator = pc = 0
    while True:
        code, jt, jf, k = instructions[pc]
        pc += 1
        if code == BPF_LD_W_ABS:
            accumulator = struct.unpack_from("<I", data, k)[0]
        elif code == BPF_RET_K:
            return k
        elif code in (BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K):
            taken = {
                BPF_JEQ_K: accumulator == k,
                BPF_JGE_K: accumulator >= k,
                BPF_JSET_K: bool(accumulator & k),
            }[code]
            pc += jt if taken else jf
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@pytest.mark.parametrize("arch", sorted(SYSCALLS))
def test_program_shape_arch_check_first_and_every_path_returns(arch: str) -> None:
    program = filter_program(arch)
    assert len(program) % 8 == 0
    count = len(program) // 8
    assert count < 256
    first = struct.unpack("=HBBI", program[:8])
    second = struct.unpack("=HBBI", program[8:16])
    third = struct.unpack("=HBBI", program[16:24])
    assert first == (BPF_LD_W_ABS, 0, 0, OFFSET_ARCH)
    assert second == (BPF_JEQ_K, 1, 0, AUDIT_ARCH[arch])
    assert third == (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS)
    last = struct.unpack("=HBBI", program[-8:])
    assert last[0] == BPF_RET_K


@pytest.mark.parametrize("arch", sorted(SYSCALLS))
def test_denied_calls_get_eperm_and_ordinary_ones_pass(arch: str) -> None:
    program = filter_program(arch)
    table = SYSCALLS[arch]
    native = AUDIT_ARCH[arch]
    for name in ("mount", "bpf", "keyctl", "ptrace", "setns", "io_uring_setup", "personality"):
        assert run_filter(program, table[name], native) == EPERM, name
    read, openat = (0, 257) if arch == "x86_64" else (63, 56)
    assert run_filter(program, read, native) == SECCOMP_RET_ALLOW
    assert run_filter(program, openat, native) == SECCOMP_RET_ALLOW


@pytest.mark.parametrize("arch", sorted(SYSCALLS))
def test_namespace_flags_are_denied_plain_clone_and_threads_are_not(arch: str) -> None:
    program = filter_program(arch)
    table = SYSCALLS[arch]
    native = AUDIT_ARCH[arch]
    assert run_filter(program, table["clone"], native, SIGCHLD) == SECCOMP_RET_ALLOW
    assert run_filter(program, table["clone"], native, CLONE_THREAD_FLAGS) == SECCOMP_RET_ALLOW
    assert run_filter(program, table["clone"], native, SIGCHLD | CLONE_NEWUSER) == EPERM
    assert run_filter(program, table["unshare"], native, CLONE_NEWNS) == EPERM
    assert run_filter(program, table["unshare"], native, 0x00000200) == SECCOMP_RET_ALLOW
    assert run_filter(program, table["clone3"], native) == ENOSYS


def test_another_abi_is_killed_and_x32_is_denied() -> None:
    program = filter_program("x86_64")
    i386 = 0x40000003
    assert run_filter(program, 0, i386) == SECCOMP_RET_KILL_PROCESS
    x32_read = 0x40000000
    assert run_filter(program, x32_read, AUDIT_ARCH["x86_64"]) == EPERM
    arm_program = filter_program("aarch64")
    assert run_filter(arm_program, 63, AUDIT_ARCH["x86_64"]) == SECCOMP_RET_KILL_PROCESS


def test_an_unknown_machine_gets_no_filter() -> None:
    with pytest.raises(UnsupportedArchitecture, match="riscv64"):
        filter_program("riscv64")


@pytest.mark.parametrize("arch", sorted(HEADERS))
def test_syscall_numbers_match_the_kernel_headers(arch: str) -> None:
    header = HEADERS[arch]
    if not header.is_file():
        pytest.skip(f"{header} is not installed (linux-libc-dev)")
    text = header.read_text()
    for name, number in SYSCALLS[arch].items():
        found = re.search(rf"#define __NR(?:3264)?_{name}\s+(\d+)", text)
        assert found is not None, name
        assert int(found.group(1)) == number, name
    for name in seccomp.DENIED:
        if name not in SYSCALLS[arch]:
            assert not re.search(rf"#define __NR(?:3264)?_{name}\s", text), name
