"""report.html in a real browser (Debian's chromium, headless): every chart has loaded and the page logs
no error. The screenshot stays in the test's temp dir (``report.png``) for a human to look at."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from benchmarks import load_results, report
from benchmarks.runner import discover

# Put first in <head>: records errors (scripts, failed resources, console.error), then, once the page has
# loaded, writes what it found into the DOM that --dump-dom prints.
PROBE = """<script>
window.__errs = [];
window.addEventListener('error',
  e => window.__errs.push(String(e.message || (e.target && e.target.src) || e.type)), true);
const __ce = console.error; console.error = (...a) => { window.__errs.push(a.join(' ')); __ce(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const pre = document.createElement('pre'); pre.id = 'vmvc-check';
  pre.textContent = JSON.stringify({images: imgs.length, widths: imgs.map(i => i.naturalWidth),
                                    errors: window.__errs});
  document.body.appendChild(pre);
});
</script>"""


def chromium(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={cwd}/profile", *args], capture_output=True, text=True,
                          timeout=180, cwd=cwd)


@pytest.mark.chromium
def test_report_loads_in_chromium(tmp_path):
    paths = report.write(load_results(), tmp_path / "out", discover())
    page = paths["html"].read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1))
    r = chromium("--virtual-time-budget=10000", "--dump-dom", probed.as_uri(), cwd=tmp_path)
    found = re.search(r'<pre id="vmvc-check">(.*?)</pre>', r.stdout, re.S)
    assert found, f"the probe did not run: {r.stderr[-500:]}"
    check = json.loads(html.unescape(found.group(1)))
    assert check["images"] == page.count("<img ") >= 2
    assert all(w > 0 for w in check["widths"]), check
    assert check["errors"] == []
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,3000", paths["html"].as_uri(), cwd=tmp_path)
    assert shot.stat().st_size > 10_000
