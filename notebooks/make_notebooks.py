"""Writes the classroom notebooks (outputs cleared) from the cells below: ``python notebooks/make_notebooks.py``.

Each notebook tells one story, picks real or recorded mode by itself (``benchmarks.classroom.mode``),
and ends with seeded exercises: a solution cell the student fills in (``ANSWER = …``) and a locked check
cell, both carrying nbgrader metadata so a teacher can grade them. Only public APIs are used.
"""

from __future__ import annotations

import os

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
SETUP = "from benchmarks import classroom\nSEED = classroom.Exercise('layer-share').seed  # set VMVC_STUDENT_SEED\n"


def md(text):
    return nbformat.v4.new_markdown_cell(text.strip())


# Sliders need a frontend. Run headless (nbclient, nbconvert --execute, the tests), an interact cell
# sometimes never finishes (jupyter/nbclient#312): nbclient skips cells with this tag; Jupyter runs them.
HEADLESS_SKIP = "skip-execution"


def code(text, **meta):
    cell = nbformat.v4.new_code_cell(text.strip())
    cell.metadata.update(meta)
    return cell


def exercise(name: str, n: int, prompt: str, solution: str):
    """A solution cell (the reference answer, as the teacher's copy has it) and a locked check cell."""
    grade_id = f"{name}-{n}"
    return [
        md(f"### Exercise {n}\n{prompt}"),
        code(f"ex{n} = classroom.Exercise({name!r}, seed=SEED)\nex{n}.params"),
        code(f"### BEGIN SOLUTION\nANSWER_{n} = {solution}\n### END SOLUTION\nANSWER_{n}",
             nbgrader={"solution": True, "grade": False, "grade_id": f"{grade_id}-answer", "locked": False,
                       "schema_version": 3}),
        code(f"assert ex{n}.check(ANSWER_{n})",
             nbgrader={"solution": False, "grade": True, "grade_id": grade_id, "points": 1, "locked": True,
                       "schema_version": 3}),
    ]


NOTEBOOKS = {
    "01-images-containers-repositories": [
        md("""# 1. Images, containers, repositories
*Claims C5, C6.* An **image** (镜像) is a read-only stack of layers; a **container** (容器) is an image plus
a thin writable layer and a running process; a **repository** (仓库) stores images. The tutorial's
HelloWorld flow: `run` looks for the image locally, pulls it from a registry when missing, then runs it."""),
        code("from benchmarks import classroom\nMODE = classroom.mode(needs=['root', 'overlayfs', 'cgroups'])"),
        md("## One image, many containers\nIn real mode we start several containers of one image and look at "
           "what each adds on disk."),
        code("""
if MODE == 'real':
    from runtime.containers import Engine, Spec
    from runtime.images import open_store
    eng = Engine()
    print(eng.run(Spec('hello-world', auto_remove=True)).stdout.decode()[:120])
    ids = [eng.create(Spec('busybox', ['sh', '-c', 'echo $HOSTNAME > /tmp/me'])) for _ in range(3)]
    for cid in ids:
        eng.start(cid)
        eng.wait(cid)
    usage = open_store().disk_usage()
    print('layer bytes stored once:', usage['LayersSize'], '| as if not shared:', usage['SizeIfNotShared'])
    for cid in ids:
        eng.remove(cid)
else:
    r = classroom.recorded()
    print('image layers stored once, shared by every container (recorded):',
          r.median('footprint', 'container', 'image_layers'), 'MiB')
"""),
        *exercise("layer-share", 1, "`n` containers share one image of `image_mb` MB; each adds `upper_mb` MB "
                  "of its own. What share of the total disk do the shared image layers take?",
                  "ex1.params['image_mb'] / (ex1.params['image_mb'] + ex1.params['n'] * ex1.params['upper_mb'])"),
    ],
    "02-isolation": [
        md("""# 2. Isolation from inside and outside
*Claims C4, C5.* A container has **no kernel of its own** (没有自己的内核): `uname -r` inside prints the
host's kernel. Namespaces give it its own PIDs, hostname, mounts and network; cgroups (v1 on this kind of
host, v2 on modern distributions) limit what it may use."""),
        code("from benchmarks import classroom\nimport platform\nMODE = classroom.mode(needs=['root', 'overlayfs', 'cgroups'])"),
        code("""
print('host kernel:', platform.release())
if MODE == 'real':
    from runtime.containers import Engine, Spec
    eng = Engine()
    out = eng.run(Spec('busybox', ['sh', '-c', 'uname -r; hostname; ps -o pid,comm'], auto_remove=True))
    print(out.stdout.decode())
    limited = eng.run(Spec('busybox', ['cat', '/proc/self/cgroup'], cpus=0.5, auto_remove=True))
    print(limited.stdout.decode()[:300])
else:
    print('recorded: the container printed the same kernel release as the host; PID 1 was its own command')
"""),
        md("`--cpus 0.5` becomes a CFS quota: with cgroup v1 `cpu.cfs_quota_us = 50000` for a "
           "`cpu.cfs_period_us` of 100000; with cgroup v2 one file, `cpu.max`, holds `50000 100000`."),
        *exercise("cpu-quota", 1, "For `cpus` CPUs and a period of `period_us` µs, what quota (µs) does the "
                  "cgroup get?", "round(ex1.params['cpus'] * ex1.params['period_us'])"),
    ],
    "03-why-containers-start-faster": [
        md("""# 3. Why containers start faster: the model, stage by stage
*Claims C2, C3, C8.* The SimPy model walks each instance through its stages on a host with finite cores,
memory and disk. A VM pays firmware, a kernel boot and an init system; a container pays none of them."""),
        code("from benchmarks import classroom\nimport sim\nMODE = classroom.mode(needs=[])"),
        code("""
for profile in ['full-os-vm', 'microvm', 'crun']:
    r = sim.run('storm', profile=profile, n=8, seed=1, cores=2)
    print(f'{profile:12s} median ready {sorted(r.ready_times)[4]:8.3f} s   stages: {", ".join(r.stage_names)[:70]}')
fig = sim.run('storm', profile='full-os-vm', n=8, seed=1, cores=2).plot_timeline()
"""),
        md("Move the sliders (in Jupyter): the guest (profile), how many start at once, the host's cores and "
           "memory, and whether the image/page cache is warm or cold."),
        code("""
try:
    import ipywidgets as w
    def show(profile='microvm', n=8, cores=2, memory_mib=8192, cache='warm'):
        r = sim.run('storm', profile=profile, n=n, seed=1, cores=cores, memory_mib=memory_mib, cache=cache)
        print(r)
    w.interact(show, profile=['full-os-vm', 'microvm', 'kvm-typical', 'crun', 'docker'], n=(1, 64), cores=(1, 16),
               memory_mib=(512, 65536, 512), cache=['warm', 'cold'])
except ImportError:
    print('ipywidgets is not installed: pip install ipywidgets')
""", tags=[HEADLESS_SKIP]),
        *exercise("storm-median", 1, "Run `sim.run('storm', profile=…, n=…, seed=…, cores=…)` with your "
                  "parameters and give the median ready time (the middle of the sorted `ready_times`).",
                  "sorted(sim.run('storm', profile=ex1.params['profile'], n=ex1.params['n'], "
                  "seed=ex1.params['seed'], cores=ex1.params['cores']).ready_times)[ex1.params['n'] // 2]"),
    ],
    "04-measuring-real-starts": [
        md("""# 4. Measuring real starts
*Claims C3, C9.* A container start on this machine, step by step (the engine records a trace of every
start), next to a VM boot's phases under QEMU (recorded: a VM boot under software emulation takes seconds)."""),
        code("from benchmarks import classroom\nMODE = classroom.mode(needs=['root', 'overlayfs', 'cgroups'])"),
        code("""
if MODE == 'real':
    from runtime.containers import Engine, Spec
    res = Engine().run(Spec('busybox', ['true'], auto_remove=True))
    for step, ms in (getattr(res, 'trace', None) or []):
        print(f'{step:12s} {ms:8.2f} ms')
r = classroom.recorded()
vm = r.median('phases', 'VM microvm (tcg)', 'to_workload')
kernel = r.median('phases', 'VM microvm (tcg)', 'kernel')
print('recorded VM to workload:', vm, 'ms; of which the guest kernel:', kernel, 'ms')
"""),
        *exercise("kernel-share", 1, "A VM reached its workload after `total_ms`; its kernel took "
                  "`kernel_ms` of that. What share of the start is the guest kernel (claim C8)?",
                  "ex1.params['kernel_ms'] / ex1.params['total_ms']"),
    ],
    "05-resource-cost-density-scaleout": [
        md("""# 5. Resource cost, density and scale-out
*Claims C1, C10, C11.* What one idle instance costs in memory decides how many fit on a host; how fast new
instances start decides how well a service absorbs a spike."""),
        code("from benchmarks import classroom\nimport sim\nMODE = classroom.mode(needs=[])"),
        code("""
for profile in ['full-os-vm', 'crun']:
    r = sim.run('scaleout', profile=profile, seed=1)
    print(r)
"""),
        *exercise("density-fit", 1, "A host has `host_gib` GiB for instances; each idle instance costs "
                  "`per_instance_mib` MiB. How many fit?",
                  "int(ex1.params['host_gib'] * 1024 // ex1.params['per_instance_mib'])"),
    ],
    "06-hypervisor-from-scratch": [
        md("""# 6. A hypervisor from scratch
*Claims C7, C8.* `pyvmm` drives `/dev/kvm` from Python: a VM, a memory slot, a vCPU and a run loop that
handles every **VM exit**. A guest with no operating system starts in about a millisecond: it is the
guest OS, not virtualisation, that makes VMs slow to start."""),
        code("from benchmarks import classroom\nMODE = classroom.mode(needs=['root', 'kvm'])"),
        code("""
if MODE == 'real':
    from runtime.vm.pyvmm import guests
    out = guests.run('hello', mode='real')
    print(repr(out.serial), dict(out.stats.counts))
print('recorded tiny-guest start:', classroom.recorded().median('startup', 'pyvmm_tiny', 'start'), 'ms')
"""),
        *exercise("exit-cost", 1, "A guest made `exits` VM exits in `total_us` µs. How many µs per exit?",
                  "ex1.params['total_us'] / ex1.params['exits']"),
    ],
    "07-workload-overhead": [
        md("""# 7. Workload overhead
*Claim C7.* Felter et al. (2015) measured LINPACK at 290.8 GFLOPS native, 290.9 in Docker and 284.2 in
KVM, and random I/O in KVM at about half of native. Here: this host's ratios (a VM row under TCG is
emulation, not virtualisation, and says so)."""),
        code("from benchmarks import classroom\nMODE = classroom.mode(needs=[])"),
        code("""
res = classroom.recorded().results
rows = [s for s in res.summaries('workload')] if hasattr(res, 'summaries') else []
for s in rows[:12]:
    print(f'{s.method:24s} {s.metric:14s} {s.median:10.2f} {s.unit}')
print('Felter et al.: LINPACK native 290.8, Docker 290.9, KVM 284.2 GFLOPS')
"""),
        *exercise("overhead-ratio", 1, "Native did `native` operations per second, the other setting `other`. "
                  "What is the throughput ratio to native?", "ex1.params['other'] / ex1.params['native']"),
    ],
    "08-client-server-and-mirrors": [
        md("""# 8. Client–server and registry mirrors
*Claims C12, C13.* `docker run` is a short conversation of REST calls with a daemon over a socket
(create → attach → wait → start); `vmvc daemon --trace` shows each call. A registry mirror (镜像加速) near
the client saves the layer bytes a far registry would send."""),
        code("from benchmarks import classroom\nMODE = classroom.mode(needs=[])"),
        code("""
res = classroom.recorded().results
facts = getattr(res, 'facts', {}) or {}
for method, path, ms in (facts.get('daemon') or {}).get('conversation', []):
    print(f'{method:6s} {path:40s} {ms:8.2f} ms')
for s in (res.summaries('mirror') if hasattr(res, 'summaries') else []):
    print(f'{s.method:28s} {s.labels} {s.median:8.0f} ms')
"""),
        *exercise("mirror-speedup", 1, "A pull took `far_ms` from the far registry and `near_ms` through the "
                  "mirror. How many times faster is the mirror?", "ex1.params['far_ms'] / ex1.params['near_ms']"),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [cells[0], code(SETUP), *cells[1:]]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        with open(os.path.join(HERE, f"{name}.ipynb"), "w") as f:
            nbformat.write(nb, f)


if __name__ == "__main__":
    main()
