"""Every plot draws with the Agg backend and shows what its name says."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import sim  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_timeline_has_a_bar_per_stage_per_instance():
    r = sim.run("storm", profile="microvm", n=3)
    ax = r.plot_timeline().axes[0]
    assert len(ax.patches) == 3 * 6
    assert [t.get_text() for t in ax.get_legend().get_texts()] == r.stage_names


def test_timeline_shows_waiting_for_memory():
    r = sim.run("storm", profile="full-os-vm", n=8, lifetime=10.0)
    labels = [t.get_text() for t in r.plot_timeline().axes[0].get_legend().get_texts()]
    assert "waiting for memory" in labels


def test_cdf_and_memory_compare_results():
    vm, ct = sim.run("storm", profile="kvm-typical", n=4), sim.run("storm", profile="docker", n=4)
    assert len(vm.plot_cdf(others=[ct]).axes[0].get_lines()) == 2
    labels = [t.get_text() for t in vm.plot_memory(others=[ct]).axes[0].get_legend().get_texts()]
    assert {"guest RAM", "shim", "host daemons"} <= set(labels)


def test_density_and_scaleout_plots():
    d = sim.run("density", profile="microvm", memory_mib=2048)
    assert "fit" in d.plot().axes[0].get_title()
    s = sim.run("scaleout", profile="crun", duration=20, spike_at=5, spike_for=5)
    assert "scale-out" in s.plot().axes[0].get_title()
