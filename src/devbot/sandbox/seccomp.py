"""A seccomp filter for the bwrap backend, as the classic-BPF program `bwrap --seccomp FD` reads.

The filter is a denylist of the calls a build or a test never needs and an escape often does:
mounting, namespaces (`unshare`/`clone` with a CLONE_NEW* flag, `setns`), the kernel keyring,
eBPF, perf, userfaultfd, ptrace and reading or writing other processes' memory, modules,
kexec, reboot, swap, clocks, quotas, accounting, the kernel log, io_uring, open-by-handle,
port I/O and `personality`. Denied calls fail with EPERM, so programs see an ordinary
"operation not permitted". `clone3` fails with ENOSYS instead: its flags live in memory a
filter cannot read, and ENOSYS makes libc fall back to `clone`, whose flags it can.

The architecture is checked first: a call made through another ABI (i386 `int 0x80` on
x86_64, arm32 on aarch64) would be looked up in the wrong table, so it kills the process;
x32 calls on x86_64 (the 0x40000000 bit) are denied. Only x86_64 and aarch64 are known.
"""

from __future__ import annotations

import errno
import platform
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16
"""struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little-endian: low word first)."""

CLONE_NEWTIME = 0x00000080
CLONE_NAMESPACES = 0x7E020000
"""CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET."""
UNSHARE_NAMESPACES = CLONE_NAMESPACES | CLONE_NEWTIME
"""In `clone` the low byte is the exit signal, so CLONE_NEWTIME is only a flag of `unshare`."""

DENIED = (
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "setns",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "open_by_handle_at",
    "name_to_handle_at",
    "iopl",
    "ioperm",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "syslog",
    "quotactl",
    "quotactl_fd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "personality",
)
FLAG_CHECKED = {"clone": CLONE_NAMESPACES, "unshare": UNSHARE_NAMESPACES}
NOT_IMPLEMENTED = ("clone3",)

SYSCALLS: Mapping[str, Mapping[str, int]] = {
    "x86_64": {
        "clone": 56,
        "ptrace": 101,
        "syslog": 103,
        "personality": 135,
        "pivot_root": 155,
        "adjtimex": 159,
        "acct": 163,
        "settimeofday": 164,
        "mount": 165,
        "umount2": 166,
        "swapon": 167,
        "swapoff": 168,
        "reboot": 169,
        "iopl": 172,
        "ioperm": 173,
        "init_module": 175,
        "delete_module": 176,
        "quotactl": 179,
        "clock_settime": 227,
        "kexec_load": 246,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "unshare": 272,
        "perf_event_open": 298,
        "name_to_handle_at": 303,
        "open_by_handle_at": 304,
        "clock_adjtime": 305,
        "setns": 308,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "finit_module": 313,
        "kexec_file_load": 320,
        "bpf": 321,
        "userfaultfd": 323,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "clone3": 435,
        "pidfd_getfd": 438,
        "mount_setattr": 442,
        "quotactl_fd": 443,
    },
    "aarch64": {
        "umount2": 39,
        "mount": 40,
        "pivot_root": 41,
        "quotactl": 60,
        "acct": 89,
        "personality": 92,
        "unshare": 97,
        "kexec_load": 104,
        "init_module": 105,
        "delete_module": 106,
        "clock_settime": 112,
        "syslog": 116,
        "ptrace": 117,
        "reboot": 142,
        "settimeofday": 170,
        "adjtimex": 171,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "clone": 220,
        "swapon": 224,
        "swapoff": 225,
        "perf_event_open": 241,
        "name_to_handle_at": 264,
        "open_by_handle_at": 265,
        "clock_adjtime": 266,
        "setns": 268,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "finit_module": 273,
        "bpf": 280,
        "userfaultfd": 282,
        "kexec_file_load": 294,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "clone3": 435,
        "pidfd_getfd": 438,
        "mount_setattr": 442,
        "quotactl_fd": 443,
    },
}
"""Numbers from the kernel's tables (asm/unistd_64.h, asm-generic/unistd.h). A denied name
missing from an architecture's table (iopl, ioperm on aarch64) does not exist there."""


class UnsupportedArchitecture(RuntimeError):
    """No syscall table for this machine, so no filter can be trusted."""


@dataclass(frozen=True)
class Instruction:
    """One `struct sock_filter`; `jt`/`jf` name a label until the program is assembled."""

    code: int
    k: int
    jt: str | int = 0
    jf: str | int = 0


def machine_arch() -> str:
    return platform.machine()


def filter_program(arch: str | None = None) -> bytes:
    """The filter for `arch` (default: this machine) as bytes of `struct sock_filter[]`."""
    return assemble(instructions(arch or machine_arch()))


def instructions(arch: str) -> list[tuple[str | None, Instruction]]:
    """The program as (label, instruction) pairs, in order."""
    if arch not in SYSCALLS:
        raise UnsupportedArchitecture(
            f"no seccomp syscall table for {arch!r} (known: {', '.join(SYSCALLS)})"
        )
    table = SYSCALLS[arch]
    program: list[tuple[str | None, Instruction]] = [
        (None, Instruction(BPF_LD_W_ABS, OFFSET_ARCH)),
        (None, Instruction(BPF_JEQ_K, AUDIT_ARCH[arch], jt=1, jf=0)),
        (None, Instruction(BPF_RET_K, SECCOMP_RET_KILL_PROCESS)),
        (None, Instruction(BPF_LD_W_ABS, OFFSET_NR)),
    ]
    if arch == "x86_64":
        program.append((None, Instruction(BPF_JGE_K, X32_SYSCALL_BIT, jt="deny")))
    for name in NOT_IMPLEMENTED:
        program.append((None, Instruction(BPF_JEQ_K, table[name], jt="enosys")))
    for name in FLAG_CHECKED:
        program.append((None, Instruction(BPF_JEQ_K, table[name], jt=f"flags_{name}")))
    for name in DENIED:
        if name in table:
            program.append((None, Instruction(BPF_JEQ_K, table[name], jt="deny")))
    program.append((None, Instruction(BPF_RET_K, SECCOMP_RET_ALLOW)))
    for name, mask in FLAG_CHECKED.items():
        program.append((f"flags_{name}", Instruction(BPF_LD_W_ABS, OFFSET_ARG0_LOW)))
        program.append((None, Instruction(BPF_JSET_K, mask, jt="deny", jf="allow")))
    program += [
        ("allow", Instruction(BPF_RET_K, SECCOMP_RET_ALLOW)),
        ("deny", Instruction(BPF_RET_K, SECCOMP_RET_ERRNO | errno.EPERM)),
        ("enosys", Instruction(BPF_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS)),
    ]
    return program


def assemble(program: Sequence[tuple[str | None, Instruction]]) -> bytes:
    """Resolve labels to relative jumps and pack each instruction (native byte order)."""
    where = {label: index for index, (label, _) in enumerate(program) if label}
    out = bytearray()
    for index, (_, ins) in enumerate(program):
        jt = _offset(ins.jt, index, where)
        jf = _offset(ins.jf, index, where)
        out += struct.pack("=HBBI", ins.code, jt, jf, ins.k)
    return bytes(out)


def _offset(target: str | int, index: int, where: Mapping[str, int]) -> int:
    if isinstance(target, int):
        return target
    offset = where[target] - index - 1
    if not 0 <= offset <= 255:
        raise ValueError(f"jump to {target} out of reach ({offset})")
    return offset
