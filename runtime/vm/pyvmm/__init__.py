"""pyvmm: a virtual machine monitor in a few hundred lines of Python over ``/dev/kvm``.

>>> from runtime.vm.pyvmm import guests                    # doctest: +SKIP
>>> out = guests.run("hello", mode="real")                 # doctest: +SKIP
>>> out.serial, dict(out.stats.counts)                     # doctest: +SKIP
('Hello from pyvmm!\\n', {'io': 18, 'hlt': 1})

``machine.Machine`` is the VMM (VM, memory slot, vCPU, run loop, exit statistics); ``devices`` the
emulated serial port and counters; ``asm`` a tiny assembler; ``guests`` the programs it runs.
Real, protected and long mode all run on kvm_pvm (this project's dev hosts) and on hardware KVM.
"""
