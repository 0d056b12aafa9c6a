"""Build the docker backend's image: from a Dockerfile, or with no registry at all.

Without a Dockerfile the image is a Debian root filesystem made by `debootstrap` (minbase
plus python3, pytest, venv, git and make) and handed to `docker import` as a tar stream —
it needs only a Debian mirror, never a container registry (measured: ~50 s, then ~4 s).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from devbot.sandbox.docker import docker_client

SUITE = "bookworm"
PACKAGES = ("python3", "python3-pytest", "python3-venv", "git", "make", "ca-certificates")
IMPORT_CHANGES = ("WORKDIR /workspace", "ENV LANG=C.UTF-8", 'CMD ["bash"]')


class ImageBuildError(RuntimeError):
    """A build step failed; the message names the step and its output's tail."""


def build_image(
    tag: str,
    dockerfile: Path | None = None,
    *,
    mirror: str | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """Build `tag` and return its image id."""
    if dockerfile is not None:
        return _from_dockerfile(tag, dockerfile, say)
    return _from_debootstrap(tag, mirror, say)


def _from_dockerfile(tag: str, dockerfile: Path, say: Callable[[str], None]) -> str:
    client = docker_client()
    say(f"building {tag} from {dockerfile}")
    image, _logs = client.images.build(
        path=str(dockerfile.resolve().parent),
        dockerfile=dockerfile.name,
        tag=tag,
        rm=True,
    )
    return str(image.id)


def _from_debootstrap(tag: str, mirror: str | None, say: Callable[[str], None]) -> str:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError(
            "debootstrap is not installed (Debian: apt-get install debootstrap),"
            " or pass --dockerfile to build from a Dockerfile"
        )
    docker = shutil.which("docker")
    with tempfile.TemporaryDirectory(prefix="devbot-image-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        args = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE]
        say(f"debootstrap {SUITE} with {', '.join(PACKAGES)} (about a minute)")
        _run([*args, str(rootfs), *([mirror] if mirror else [])], "debootstrap")
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        say(f"importing {rootfs} as {tag}")
        if docker is not None:
            changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(
                [docker, "import", *changes, "-", tag],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                check=False,
            )
            tar.wait()
            if imported.returncode != 0 or tar.returncode != 0:
                raise ImageBuildError(f"docker import failed: {imported.stderr.strip()[-2000:]}")
            return imported.stdout.strip()
        return _import_with_sdk(tag, rootfs)


def _import_with_sdk(tag: str, rootfs: Path) -> str:
    """`docker import` through the SDK, for machines with an engine but no docker CLI."""
    client = docker_client(timeout_s=600)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    repository, _, version = tag.partition(":")
    assert tar.stdout is not None
    client.images.import_image(
        src=tar.stdout, repository=repository, tag=version or "latest", changes=IMPORT_CHANGES
    )
    tar.wait()
    return str(client.images.get(tag).id)


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-2000:]
        raise ImageBuildError(f"{what} failed (exit {result.returncode}):\n{tail}")
