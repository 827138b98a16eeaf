"""The micro measures, with pytest-benchmark: ``pytest benchmarks --benchmark-only``.

Each is one small operation timed many times; ``vmvc bench`` measures the big picture. Under the test
suite (``--benchmark-disable``) each runs once, as a plain test of the same code path.
"""

from __future__ import annotations

from benchmarks.conftest import need


def test_engine_start(benchmark, private_engine):
    """One container of ``/bin/true`` through the in-process engine, created, run and removed."""
    from runtime.containers import Spec

    spec = Spec("busybox", ["/bin/true"], auto_remove=True)
    result = benchmark(private_engine.run, spec)
    assert result.exit_code == 0


def test_pyvmm_tiny_guest(benchmark):
    """pyvmm's whole tiny VM: open /dev/kvm, create VM and vCPU, 19 exits, tear down."""
    need("kvm")
    from runtime.vm.pyvmm import guests

    out = benchmark(guests.run, "hello", "real")
    assert out.serial == "Hello from pyvmm!\n"


def test_image_resolve(benchmark, private_engine):
    """Resolving an image reference to its layer directories (every container start does it)."""
    from runtime.images import open_store

    store = open_store()
    image = benchmark(store.resolve, "busybox")
    assert image.layer_dirs


def test_model_events(benchmark):
    """The model: a 1,000-instance storm; events per second are in ``extra_info``."""
    import sim

    result = benchmark(sim.run, "storm", profile="kvm-typical", n=1000, seed=0, memory_mib=10**9)
    benchmark.extra_info["events"] = result.events
    assert result.events > 1000
