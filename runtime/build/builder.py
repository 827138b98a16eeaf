"""``vmvc build``: a Dockerfile into an image, step by step, as docker's classic builder does.

Every step makes an image (untagged until the end): metadata steps only change the config; RUN runs
the command in a real vmvc container on the previous image and turns its overlay upper dir into the
next layer (:mod:`runtime.build.diff`); COPY/ADD write a layer from the build context (or from an
earlier stage's image). The cache key of a step is its parent image, its instruction after variable
substitution and, for COPY/ADD, the content of what it copies — as docker keys its cache — so a second
build is all cache hits and touching one copied file rebuilds from that step on. Only a successful
build is tagged; every error names its Dockerfile line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import tarfile
import tempfile
import time

from runtime.build import dockerfile, rootfs
from runtime.build.context import Context, ContextError
from runtime.build.diff import write_layer
from runtime.build.dockerfile import DockerfileError, Instruction
from runtime.errors import VmvcError

DEFAULT_SHELL = ["/bin/sh", "-c"]


class BuildError(VmvcError):
    exit_code = 1


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Stage:
    """One FROM … section: its current image and config as the steps change them."""

    def __init__(self, name: str | None, image, config: dict, diff_ids: list[str], history: list[dict]):
        self.name, self.image = name, image
        self.config = config
        self.diff_ids = list(diff_ids)
        self.history = list(history)
        self.args: dict[str, str] = {}
        self.shell = list(DEFAULT_SHELL)

    @property
    def env(self) -> dict[str, str]:
        env = dict(self.args)
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            env[k] = v
        return env


class Builder:
    def __init__(self, store, context_dir: str, *, build_args: dict | None = None, no_cache: bool = False,
                 emit=None, engine=None):
        self.store = store
        self.context = Context(context_dir)
        self.build_args = dict(build_args or {})
        self.no_cache = no_cache
        self.emit = emit or (lambda text: print(text, end="", flush=True))
        self._engine = engine
        self.cache_path = os.path.join(store.root, "build-cache.json")
        self.stages: list[Stage] = []
        self.used_args: set[str] = set()
        self.global_args: dict[str, str] = {}

    # -- the cache ---------------------------------------------------------------------------------
    def _cache(self) -> dict:
        try:
            with open(self.cache_path) as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _remember(self, key: str, image_id: str) -> None:
        data = self._cache()
        data[key] = image_id
        tmp = self.cache_path + f".{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.cache_path)

    def engine(self):
        if self._engine is None:
            from runtime.containers import Engine

            self._engine = Engine()
        return self._engine

    # -- the build ---------------------------------------------------------------------------------
    def build(self, text: str, tag: str | None = None) -> str:
        insts = dockerfile.parse(text)
        if tag is not None:
            from runtime.images import reference

            reference.normalise(tag)  # a bad tag fails before any work
        global_args: dict[str, str] = {}
        first_from = next((i for i, x in enumerate(insts) if x.cmd == "FROM"), None)
        if first_from is None:
            raise DockerfileError(insts[0].line, "no build stage in current context (a FROM is needed)")
        for inst in insts[:first_from]:
            if inst.cmd != "ARG":
                raise DockerfileError(inst.line, f"{inst.cmd} before the first FROM")
            for k, v in dockerfile.key_values(inst, {}):
                global_args[k] = self.build_args.get(k, v or "")
        self.global_args = global_args
        steps = insts[first_from:]
        stage = None
        for n, inst in enumerate(steps, 1):
            env = stage.env if stage else global_args
            shown = inst.original(dockerfile.substitute(inst.text, {**global_args, **env}, inst.line)
                                  if inst.cmd in dockerfile.SUBSTITUTED else None)
            self.emit(f"Step {n}/{len(steps)} : {shown}\n")
            if inst.cmd == "FROM":
                stage = self._from(inst, global_args)
                self.stages.append(stage)
            else:
                try:
                    self._step(stage, inst)
                except VmvcError as e:  # e.g. the store refusing an ADDed tar's entries: name the line
                    if str(e).startswith("Dockerfile:"):
                        raise
                    raise BuildError(f"Dockerfile:{inst.line}: {inst.cmd} failed: {e}") from None
            self.emit(f" ---> {stage.image.short_id if stage.image else '(scratch)'}\n")
        if stage.image is None:
            stage.image = self._commit(stage, None, "scratch", empty=True)
        unused = set(self.build_args) - self.used_args
        if unused:
            self.emit(f"[Warning] One or more build-args {sorted(unused)} were not consumed\n")
        self.emit(f"Successfully built {stage.image.short_id}\n")
        if tag:
            self.store.tag(stage.image.id, tag)
            from runtime.images import reference

            self.emit(f"Successfully tagged {reference.familiar(reference.normalise(tag))}\n")
        return stage.image.id

    def _from(self, inst: Instruction, global_args: dict) -> Stage:
        words = dockerfile.substitute(inst.text, global_args, inst.line).split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
            raise DockerfileError(inst.line, "FROM takes IMAGE [AS NAME]")
        ref, name = words[0], (words[2] if len(words) == 3 else None)
        if ref == "scratch":
            return Stage(name, None, {"Env": []}, [], [])
        named = next((s for s in self.stages if s.name == ref), None)
        image = named.image if named else self._image(ref, inst.line)
        raw = json.loads(self.store.config_blob(image))
        return Stage(name, image, dict(raw.get("config") or {}), image.diff_ids, raw.get("history") or [])

    def _image(self, ref: str, line: int):
        img = self.store.find(ref)
        if img is not None:
            return img
        try:
            return self.store.resolve(ref)  # vmvc's own images
        except VmvcError:
            pass
        try:
            from runtime.registry import config, pull

            return pull(self.store, ref, config=config.load()).image
        except VmvcError as e:
            raise DockerfileError(line, f"FROM {ref}: not found locally, and the pull failed: {e}") from None

    def _step(self, stage: Stage, inst: Instruction) -> None:
        cmd = inst.cmd
        if cmd == "ARG":
            for k, v in dockerfile.key_values(inst, stage.env):
                if k in self.build_args:
                    self.used_args.add(k)
                default = v if v is not None else self.global_args.get(k, "")  # a global ARG's default
                stage.args[k] = self.build_args.get(k, default)
            return
        if cmd in ("RUN", "COPY", "ADD"):
            self._layer_step(stage, inst)
            return
        self._meta(stage, inst)

    # -- metadata steps ----------------------------------------------------------------------------
    def _meta(self, stage: Stage, inst: Instruction) -> None:
        c, env, cmd = stage.config, stage.env, inst.cmd
        if cmd == "ENV":
            pairs = dockerfile.key_values(inst, env)
            current = dict(x.partition("=")[::2] for x in c.get("Env") or [])
            current.update(pairs)
            c["Env"] = [f"{k}={v}" for k, v in current.items()]
        elif cmd in ("LABEL", "MAINTAINER"):
            pairs = dockerfile.key_values(inst, env) if cmd == "LABEL" else [("maintainer", inst.text)]
            c["Labels"] = {**(c.get("Labels") or {}), **dict(pairs)}
        elif cmd in ("CMD", "ENTRYPOINT"):
            value = inst.args if inst.json_form else (stage.shell + [inst.text] if inst.text else [])
            c["Cmd" if cmd == "CMD" else "Entrypoint"] = value or None
            if cmd == "ENTRYPOINT" and "CMD" not in self._set_in_stage(stage):
                c.pop("Cmd", None)  # docker: a new ENTRYPOINT drops the base image's CMD
        elif cmd == "USER":
            c["User"] = dockerfile.substitute(inst.text, env, inst.line)
        elif cmd == "WORKDIR":
            path = dockerfile.substitute(inst.text, env, inst.line)
            c["WorkingDir"] = os.path.normpath(os.path.join(c.get("WorkingDir") or "/", path))
        elif cmd == "EXPOSE":
            ports = dockerfile.substitute(inst.text, env, inst.line).split()
            c["ExposedPorts"] = {**(c.get("ExposedPorts") or {}),
                                 **{(p if "/" in p else p + "/tcp"): {} for p in ports}}
        elif cmd == "VOLUME":
            vols = inst.args if inst.json_form else dockerfile.substitute(inst.text, env, inst.line).split()
            c["Volumes"] = {**(c.get("Volumes") or {}), **{v: {} for v in vols}}
        elif cmd == "STOPSIGNAL":
            c["StopSignal"] = dockerfile.substitute(inst.text, env, inst.line)
        elif cmd == "SHELL":
            stage.shell = list(inst.args)
        elif cmd == "HEALTHCHECK":
            self.emit(f"[Warning] Dockerfile:{inst.line}: HEALTHCHECK is ignored (vmvc does not run it)\n")
        elif cmd == "ONBUILD":
            raise DockerfileError(inst.line, "ONBUILD is not supported by vmvc build")
        stage.__dict__.setdefault("set_here", set()).add(cmd)
        key = self._key(stage, inst)
        if self._use_cache(stage, key):
            return
        layer = self._workdir_layer(stage) if cmd == "WORKDIR" else None
        try:
            stage.image = self._commit(stage, layer, f"/bin/sh -c #(nop) {inst.original()}",
                                       empty=layer is None)
        finally:
            if layer is not None:
                layer.close()
        self._remember(key, stage.image.id)

    def _workdir_layer(self, stage: Stage):
        """WORKDIR makes its directory when the image lacks it (a small layer), as docker does."""
        path = stage.config["WorkingDir"].strip("/")
        if not path or (stage.image and rootfs.locate(stage.image.layer_dirs, path)):
            return None
        out = tempfile.TemporaryFile(prefix="vmvc-build-workdir-")
        with tarfile.open(fileobj=out, mode="w") as tar:
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                info = tarfile.TarInfo("/".join(parts[:i]))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(info)
        out.seek(0)
        return out

    @staticmethod
    def _set_in_stage(stage: Stage) -> set:
        return stage.__dict__.get("set_here", set())

    # -- layer steps -------------------------------------------------------------------------------
    def _layer_step(self, stage: Stage, inst: Instruction) -> None:
        extra = ""
        if inst.cmd in ("COPY", "ADD"):
            sources, dest, source_stage = self._copy_args(stage, inst)
            extra = self._content_key(sources, source_stage)
        key = self._key(stage, inst, extra)
        if self._use_cache(stage, key):
            return
        with tempfile.TemporaryFile(prefix="vmvc-build-layer-") as layer:
            if inst.cmd == "RUN":
                created_by = self._run(stage, inst, layer)
            else:
                created_by = self._copy(stage, inst, sources, dest, source_stage, layer)
            layer.seek(0)
            stage.image = self._commit(stage, layer, created_by)
        self._remember(key, stage.image.id)

    def _run(self, stage: Stage, inst: Instruction, out) -> str:
        from runtime.containers import Spec

        argv = inst.args if inst.json_form else stage.shell + [inst.text]
        base = stage.image.id if stage.image else None
        if base is None:
            raise DockerfileError(inst.line, "RUN needs a base image with a shell (FROM scratch has none)")
        env = [f"{k}={v}" for k, v in stage.args.items()]  # ARGs are visible to RUN, not kept in the image
        eng = self.engine()
        network = "host" if os.geteuid() == 0 else "private"  # rootless cannot join the host's network
        spec = Spec(base, argv, env=env, network=network, user=stage.config.get("User") or None,
                    workdir=stage.config.get("WorkingDir") or None)
        cid = eng.create(spec)
        try:
            self.emit(f" ---> Running in {cid[:12]}\n")
            session = eng.start(cid, attach=True)
            with session:
                for kind, payload in session.frames():
                    if kind in (1, 2):
                        self.emit(payload.decode(errors="replace"))
            code = session.exit_code if session.exit_code is not None else eng.wait(cid)
            if code != 0:
                shown = json.dumps(argv) if inst.json_form else " ".join(argv)
                raise BuildError(f"Dockerfile:{inst.line}: The command '{shown}' returned a non-zero code: "
                                 f"{code}")
            if os.geteuid() == 0:
                write_layer(eng.table.dir(cid, "upper"), out)
            else:  # rootless: read the upper dir in the user's namespace (runtime.build.diff)
                from runtime.build.diff import write_layer_flushed
                from runtime.rootless.launch import run_mapped

                if run_mapped(write_layer_flushed, eng.table.dir(cid, "upper"), out) != 0:
                    raise BuildError(f"Dockerfile:{inst.line}: reading what RUN changed failed")
        finally:
            try:
                eng.remove(cid, force=True)
            except VmvcError:
                pass
        return " ".join(argv) if not inst.json_form else json.dumps(argv)

    def _copy_args(self, stage: Stage, inst: Instruction):
        words = inst.args if inst.json_form else \
            shlex.split(dockerfile.substitute(inst.text, stage.env, inst.line))
        if len(words) < 2:
            raise DockerfileError(inst.line, f"{inst.cmd} requires at least two arguments")
        *srcs, dest = words
        source_stage = None
        if "from" in inst.flags:
            ref = inst.flags["from"]
            if ref.isdigit() and int(ref) < len(self.stages):
                source_stage = self.stages[int(ref)]
            else:
                source_stage = next((s for s in self.stages if s.name == ref), None)
            if source_stage is None:
                source_stage = Stage(None, self._image(ref, inst.line), {}, [], [])
            if source_stage.image is None:
                raise DockerfileError(inst.line, f"COPY --from={ref}: that stage has no files")
            return srcs, dest, source_stage
        if any(s.startswith(("http://", "https://")) for s in srcs):
            raise DockerfileError(inst.line, f"{inst.cmd} from a URL is not supported (no network here)")
        try:
            return self.context.sources(srcs, inst.line), dest, None
        except ContextError as e:
            raise BuildError(str(e)) from None

    def _content_key(self, sources: list[str], source_stage: Stage | None) -> str:
        h = hashlib.sha256()
        if source_stage is not None:
            h.update(source_stage.image.id.encode() + json.dumps(sources).encode())
            return h.hexdigest()
        for src in sources:
            items = [(src, os.path.basename(src))] if not os.path.isdir(src) or os.path.islink(src) else \
                [(src, ".")] + list(self.context.walk(src))
            for path, rel in items:
                st = os.lstat(path)
                h.update(f"{rel}\0{st.st_mode:o}\0".encode())
                if os.path.islink(path):
                    h.update(os.readlink(path).encode())
                elif os.path.isfile(path):
                    with open(path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            h.update(chunk)
        return h.hexdigest()

    def _copy(self, stage, inst, sources, dest, source_stage, out) -> str:
        workdir = stage.config.get("WorkingDir") or "/"
        dest_abs = os.path.normpath(os.path.join(workdir, dest))
        to_dir = dest.endswith("/") or len(sources) > 1
        uid = gid = 0
        if "chown" in inst.flags:
            user, _, group = inst.flags["chown"].partition(":")
            dirs = stage.image.layer_dirs if stage.image else []
            uid = rootfs.lookup_id(dirs, user)
            gid = rootfs.lookup_id(dirs, group or user, group=True) if (group or not user.isdigit()) else uid
            if uid is None or gid is None:
                raise DockerfileError(inst.line, f"--chown={inst.flags['chown']}: unknown user or group")
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            made: set[str] = set()

            def parents(path: str) -> None:
                parts = path.strip("/").split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = "/".join(parts[:i])
                    if d not in made:
                        made.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                        tar.addfile(info)

            def add(host: str, target: str) -> None:
                info = tar.gettarinfo(host, arcname=target.strip("/"))
                info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
                parents(target)
                if info.isreg():
                    with open(host, "rb") as f:
                        tar.addfile(info, f)
                elif info.isdir() or info.issym():
                    made.add(target.strip("/"))
                    tar.addfile(info)

            if source_stage is not None:
                self._copy_from_image(source_stage, sources, dest_abs, to_dir, add, inst.line)
            else:
                for src in sources:
                    if inst.cmd == "ADD" and os.path.isfile(src) and _is_tar(src):
                        _add_tar(tar, src, dest_abs, uid, gid, parents)
                    elif os.path.isdir(src) and not os.path.islink(src):
                        for path, rel in self.context.walk(src):
                            add(path, os.path.join(dest_abs, rel))
                    else:
                        add(src, os.path.join(dest_abs, os.path.basename(src)) if to_dir else dest_abs)
        return f"/bin/sh -c #(nop) {inst.cmd} " + " ".join(os.path.relpath(s, self.context.root)
                                                         if source_stage is None else s for s in sources) + \
            f" in {dest_abs}"

    def _copy_from_image(self, stage: Stage, sources, dest_abs, to_dir, add, line) -> None:
        dirs = stage.image.layer_dirs
        for src in sources:
            host = rootfs.locate(dirs, src)
            if host is None:
                raise BuildError(f"Dockerfile:{line}: COPY --from failed: {src}: no such file in the stage")
            if os.path.isdir(host) and not os.path.islink(host):
                stack = [(src.strip("/"), "")]
                while stack:
                    rel_src, rel_dst = stack.pop()
                    for name, p in sorted(rootfs.listdir(dirs, rel_src).items()):
                        target = os.path.join(dest_abs, rel_dst, name)
                        add(p, target)
                        if os.path.isdir(p) and not os.path.islink(p):
                            stack.append((os.path.join(rel_src, name), os.path.join(rel_dst, name)))
            else:
                add(host, os.path.join(dest_abs, os.path.basename(src)) if to_dir else dest_abs)

    # -- committing --------------------------------------------------------------------------------
    def _key(self, stage: Stage, inst: Instruction, extra: str = "") -> str:
        parent = stage.image.id if stage.image else "scratch"
        args = sorted(stage.args.items()) if inst.cmd == "RUN" else []
        text = dockerfile.substitute(inst.text, stage.env, inst.line) if inst.cmd in dockerfile.SUBSTITUTED \
            else inst.text
        blob = json.dumps([parent, inst.cmd, inst.flags, text, args, extra, stage.shell])
        return hashlib.sha256(blob.encode()).hexdigest()

    def _use_cache(self, stage: Stage, key: str) -> bool:
        """A cache hit moves the stage onto the cached image (its layers, config and history)."""
        cached = self._cached(key)
        if cached is None:
            return False
        stage.image = cached
        stage.diff_ids = list(cached.diff_ids)
        raw = json.loads(self.store.config_blob(cached))
        stage.history = raw.get("history") or []
        stage.config = dict(raw.get("config") or {})
        return True

    def _cached(self, key: str):
        if self.no_cache:
            return None
        image_id = self._cache().get(key)
        image = self.store.find(image_id) if image_id else None
        if image is not None:
            self.emit(" ---> Using cache\n")
        return image

    def _commit(self, stage: Stage, layer, created_by: str, empty: bool = False):
        from runtime.images.store import config_bytes

        with self.store.staging() as stage_dir:
            diff_ids = list(stage.diff_ids)
            if layer is not None:
                diff_ids.append(stage_dir.add_layer(layer))
            stage.diff_ids = diff_ids
            entry = {"created": _now(), "created_by": created_by}
            if empty:
                entry["empty_layer"] = True
            stage.history = stage.history + [entry]
            body = {"architecture": "amd64", "os": "linux", "created": entry["created"],
                    "config": {k: v for k, v in stage.config.items() if v not in (None, [], {})},
                    "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": stage.history}
            return self.store.add(stage_dir, diff_ids, config_bytes(body), [])


def _is_tar(path: str) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _add_tar(tar: tarfile.TarFile, src: str, dest_abs: str, uid: int, gid: int, parents) -> None:
    """ADD of a local tar: its entries under ``dest_abs`` (links and paths kept inside)."""
    links: set[str] = set()
    with tarfile.open(src, "r:*") as t:
        for m in t:
            name = os.path.normpath(m.name.lstrip("/"))
            if name.startswith("..") or not (m.isreg() or m.isdir() or m.issym()):
                continue
            parts = name.split("/")
            if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
                continue  # beneath a link the tar itself planted: where it points is not ours to write
            if m.issym():
                links.add(name)
            m.name = os.path.join(dest_abs, name).strip("/")
            m.uid, m.gid, m.uname, m.gname = uid, gid, "", ""
            parents("/" + m.name)
            tar.addfile(m, t.extractfile(m) if m.isreg() else None)


def build(store, context_dir: str, dockerfile_text: str, tag: str | None = None, **kw) -> str:
    return Builder(store, context_dir, **kw).build(dockerfile_text, tag)


__all__ = ["BuildError", "Builder", "build"]
