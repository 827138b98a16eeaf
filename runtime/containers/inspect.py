"""A container as docker's ``inspect`` shows it (the fields docker clients read)."""

from __future__ import annotations

from runtime.containers.state import RUNNING, Containers, Record

_EPOCH = "0001-01-01T00:00:00Z"


def inspect(rec: Record, table: Containers) -> dict:
    c, s = rec.config, rec.state
    proc = c["process"]
    spec = c.get("spec", {})
    return {
        "Id": rec.id,
        "Created": c["created"],
        "Path": proc["args"][0],
        "Args": proc["args"][1:],
        "State": {
            "Status": s["status"],
            "Running": s["status"] == RUNNING,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": bool(s.get("oom_killed")),
            "Dead": False,
            "Pid": s.get("host_pid") or s.get("pid", 0),  # rootless: the host's pid
            "ExitCode": s.get("exit_code", 0),
            "Error": s.get("error", ""),
            "StartedAt": s.get("started_at") or _EPOCH,
            "FinishedAt": s.get("finished_at") or _EPOCH,
        },
        "Image": c["image_id"],
        "Name": "/" + rec.name,
        "LogPath": str(table.log_path(rec.id)),
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": {
            "NetworkMode": {"private": "default"}.get(c["network"], c["network"]),
            "AutoRemove": c["auto_remove"],
            "LogConfig": {
                "Type": "json-file",
                "Config": dict(o.partition("=")[::2] for o in spec.get("log_opt") or []),
            },
            "Memory": c["limits"]["memory"] or 0,
            "NanoCpus": int((c["limits"]["cpus"] or 0) * 1e9),
            "PidsLimit": c["limits"]["pids"],
            "Privileged": bool(spec.get("privileged")),  # H3 (issue 10): runtime.security.options
            "SecurityOpt": list(spec.get("security_opt") or []) or None,
            "Binds": [
                f"{v['host']}:{v['container']}" + (":ro" if v["readonly"] else "") for v in c["volumes"]
            ],
        },
        "Config": {
            "Hostname": c["hostname"],
            "User": proc["user"],
            "Tty": c["tty"],
            "OpenStdin": c["stdin"],
            "StdinOnce": c["stdin"],
            "AttachStdin": c["stdin"],
            "AttachStdout": True,
            "AttachStderr": True,
            "Env": proc["env"],
            "Cmd": spec.get("cmd") or proc["args"],
            "Entrypoint": spec.get("entrypoint"),
            "Image": c["image"],
            "WorkingDir": proc["cwd"],
            "Labels": c.get("labels", {}),
        },
        "Mounts": [
            {
                "Type": "bind",
                "Source": v["host"],
                "Destination": v["container"],
                "Mode": "ro" if v["readonly"] else "",
                "RW": not v["readonly"],
                "Propagation": "rprivate",
            }
            for v in c["volumes"]
        ],
        "NetworkSettings": {"Networks": {}, "Ports": {}},
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "LowerDir": ":".join(c["layers"]),
                "UpperDir": table.dir(rec.id, "upper"),
                "WorkDir": table.dir(rec.id, "work"),
            },
        },
        "Vmvc": {"Cgroup": s.get("cgroup", ""), "Network": c["network"]},
        # the last start, step by step: [[step, ms since the client's request], ...] (recorded at exit)
        "Trace": s.get("trace", []),
    }
