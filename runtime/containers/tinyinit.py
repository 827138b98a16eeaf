"""``vmvc run --init``: a 793-byte PID 1 that forwards signals and reaps zombies (docker's ``--init``).

Why. The kernel gives PID 1 of a PID namespace no default signal actions: ``sleep`` as PID 1 ignores
the SIGINT of a Ctrl-C and the SIGTERM of ``vmvc stop`` (which then waits out its grace period and
kills), and nothing reaps the zombies of orphaned processes. A tiny init as PID 1 fixes both: it
blocks every signal, forks the command, waits in ``rt_sigtimedwait``, forwards each signal to the
command with ``kill(2)`` (whose default actions then apply, as the command is not PID 1), reaps every
exited child on SIGCHLD, and exits with the command's code (128+n if signal n killed it). A signal the
kernel itself sent (``si_code == SI_KERNEL``: a terminal's Ctrl-C) is not forwarded, since it already
reached the command's process group.

Like :mod:`runtime.images.hello` it is a static x86-64 ELF written here byte by byte (no compiler,
no libc): an ELF header, one PT_LOAD program header, then the machine code below, assembled from
:data:`SOURCE` with GNU ``as`` (``as -o i.o && ld -static -nostdlib && objcopy -O binary -j .text``).
The engine writes it once into the state root and bind-mounts it read-only at :data:`PATH`.
"""

from __future__ import annotations

import os
import struct

from runtime.containers.spec import INIT_PATH

PATH = INIT_PATH  # where the container sees it (docker's is /sbin/docker-init)

BASE, EHDR, PHDR = 0x400000, 64, 56

CODE = bytes.fromhex(
    "4989e64881ec0021000048c70424ffffffffb80e00000031ff4889e631d2"
    "41ba080000000f05498b0e498d5e104883f9020f8cbb010000488b036681"
    "382d2d751480780200750e4883c30848833b000f849d010000b839000000"
    "0f054885c00f888d0100000f84830000004989c4b8800000004889e7488d"
    "74241031d241ba080000000f0583f811741c85c07ee0817c241880000000"
    "74d689c64489e7b83e0000000f05ebc8b83d00000048c7c7ffffffff488d"
    "742408ba010000004531d20f054885c07ea84c39e075db8b7c240889f883"
    "e07f74088db880000000eb09c1ef0881e7ff000000b8e70000000f0548c7"
    "042400000000b80e000000bf020000004889e631d241ba080000000f0549"
    "8b0e4d8d6cce1041bf7f000000488b3b4889fe8a0684c074133c2f740548"
    "ffc6ebf1e89f000000e9cc0000004c8d0de50000004d89e8498b004885c0"
    "74164983c00881385041544875ec8078043d75e64c8d4805488dbc240001"
    "00004c8d942400210000418a0184c074133c3a740f880748ffc749ffc14c"
    "39d7737cebe6488d8424000100004839c77506c6072e48ffc7c6072f48ff"
    "c7488b334c39d773598a06880748ffc748ffc684c075ed488dbc24000100"
    "00e80c000000418a0184c0743749ffc1eb8e4889de4c89eab83b0000000f"
    "0583f8fe740b83f8ec740641bf7e000000c341bf7d000000488d35860000"
    "00ba1c000000eb0c488d3556000000ba22000000b801000000bf02000000"
    "0f054489ffe9c1feffff2f7573722f6c6f63616c2f7362696e3a2f757372"
    "2f6c6f63616c2f62696e3a2f7573722f7362696e3a2f7573722f62696e3a"
    "2f7362696e3a2f62696e00766d76632d696e69743a2063616e6e6f742072"
    "756e2074686520636f6d6d616e640a75736167653a20766d76632d696e69"
    "74202d2d20434f4d4d414e440a"
)

SOURCE = r"""
_start:
    mov r14, rsp                    # r14 -> argc, argv[], NULL, envp[], NULL
    sub rsp, 8448                   # [rsp] sigset, [rsp+8] status, [rsp+16] siginfo, [rsp+256] path
    mov qword ptr [rsp], -1
    mov eax, 14                     # rt_sigprocmask(SIG_BLOCK, all, NULL, 8)
    xor edi, edi
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    mov rcx, [r14]
    lea rbx, [r14+16]               # rbx -> argv[1]
    cmp rcx, 2
    jl usage
    mov rax, [rbx]
    cmp word ptr [rax], 0x2d2d      # skip a leading "--"
    jne 1f
    cmp byte ptr [rax+2], 0
    jne 1f
    add rbx, 8
    cmp qword ptr [rbx], 0
    je usage
1:
    mov eax, 57                     # fork
    syscall
    test rax, rax
    js usage
    jz child
    mov r12, rax                    # the command's pid
wait_sig:
    mov eax, 128                    # rt_sigtimedwait(all, &info, NULL, 8)
    mov rdi, rsp
    lea rsi, [rsp+16]
    xor edx, edx
    mov r10d, 8
    syscall
    cmp eax, 17                     # SIGCHLD
    je reap
    test eax, eax
    jle wait_sig
    cmp dword ptr [rsp+24], 0x80    # si_code == SI_KERNEL: from the tty, the command has it too
    je wait_sig
    mov esi, eax                    # kill(command, signo)
    mov edi, r12d
    mov eax, 62
    syscall
    jmp wait_sig
reap:
    mov eax, 61                     # wait4(-1, &status, WNOHANG, NULL)
    mov rdi, -1
    lea rsi, [rsp+8]
    mov edx, 1
    xor r10d, r10d
    syscall
    test rax, rax
    jle wait_sig
    cmp rax, r12
    jne reap
    mov edi, [rsp+8]
    mov eax, edi
    and eax, 0x7f
    jz exited
    lea edi, [rax+128]
    jmp quit
exited:
    shr edi, 8
    and edi, 0xff
quit:
    mov eax, 231                    # exit_group
    syscall
child:
    mov qword ptr [rsp], 0
    mov eax, 14                     # rt_sigprocmask(SIG_SETMASK, none, NULL, 8)
    mov edi, 2
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    mov rcx, [r14]
    lea r13, [r14+rcx*8+16]         # r13 -> envp
    mov r15d, 127
    mov rdi, [rbx]
    mov rsi, rdi
scan:                               # a name with a '/' is executed as is
    mov al, [rsi]
    test al, al
    jz search
    cmp al, '/'
    je direct
    inc rsi
    jmp scan
direct:
    call execute
    jmp failed
search:
    lea r9, [rip+defpath]
    mov r8, r13
env:
    mov rax, [r8]
    test rax, rax
    jz segment
    add r8, 8
    cmp dword ptr [rax], 0x48544150 # "PATH="
    jne env
    cmp byte ptr [rax+4], '='
    jne env
    lea r9, [rax+5]
segment:                            # buffer = segment (or "."), "/", name
    lea rdi, [rsp+256]
    lea r10, [rsp+8448]
copy:
    mov al, [r9]
    test al, al
    jz sep
    cmp al, ':'
    je sep
    mov [rdi], al
    inc rdi
    inc r9
    cmp rdi, r10
    jae failed
    jmp copy
sep:
    lea rax, [rsp+256]
    cmp rdi, rax
    jne 3f
    mov byte ptr [rdi], '.'
    inc rdi
3:
    mov byte ptr [rdi], '/'
    inc rdi
    mov rsi, [rbx]
name:
    cmp rdi, r10
    jae failed
    mov al, [rsi]
    mov [rdi], al
    inc rdi
    inc rsi
    test al, al
    jnz name
    lea rdi, [rsp+256]
    call execute
    mov al, [r9]
    test al, al
    jz failed
    inc r9
    jmp segment
execute:                            # execve(rdi, argv, envp); ENOENT/ENOTDIR keep 127, else 126
    mov rsi, rbx
    mov rdx, r13
    mov eax, 59
    syscall
    cmp eax, -2
    je 4f
    cmp eax, -20
    je 4f
    mov r15d, 126
4:
    ret
usage:
    mov r15d, 125
    lea rsi, [rip+umsg]
    mov edx, 28
    jmp say
failed:
    lea rsi, [rip+msg]
    mov edx, 34
say:
    mov eax, 1                      # write(2, message, len)
    mov edi, 2
    syscall
    mov edi, r15d
    jmp quit
defpath:
    .asciz "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
msg:
    .ascii "vmvc-init: cannot run the command\n"
umsg:
    .ascii "usage: vmvc-init -- COMMAND\n"
"""


def program() -> bytes:
    """The complete ELF file: header, one read+execute PT_LOAD segment, the code (entry at its start)."""
    size = EHDR + PHDR + len(CODE)
    entry = BASE + EHDR + PHDR
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
            + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, EHDR, 0, 0, EHDR, PHDR, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, size, size, 0x1000)
    return ehdr + phdr + CODE


def ensure(directory: str) -> str:
    """The init program as a file in ``directory`` (written atomically when missing or different)."""
    path = os.path.join(directory, "vmvc-init")
    data = program()
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return path
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path
