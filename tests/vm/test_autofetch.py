"""``vmvc vm boot`` fetches a guest kernel when none is cached, as ``docker run`` pulls an image."""

from runtime.cli import vm as vm_cli
from runtime.vm import kernel


def test_fetches_only_when_no_kernel_is_anywhere(monkeypatch, vmvc_root, capsys):
    calls = []
    monkeypatch.setattr(kernel, "fetch", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(kernel, "host_kernels", lambda boot="/boot": [])
    vm_cli._ensure_kernel(quiet=True)
    assert calls == [1]
    assert "Unable to find a guest kernel locally" in capsys.readouterr().err

    monkeypatch.setattr(kernel, "cached", lambda cache=None: ["a cached kernel"])
    vm_cli._ensure_kernel(quiet=True)
    assert calls == [1]
