"""Build the docker backend's image: from a Dockerfile, or with no container registry.

Without a Dockerfile the image is a Debian root filesystem made by `debootstrap` (minbase
plus python3, pytest, venv, git, make and nodejs) and handed to `docker import` as a tar
stream — it needs a Debian mirror, never a container registry (measured: ~50 s, then ~4 s).
npm comes from its own release tarball on registry.npmjs.org (one pinned version, checked
against its sha512): Debian's npm package pulls in 360 packages, doubling the build time
(measured: 115 s, 565 MB) for what one 2.6 MB tarball holds. The CA certificates the host
added (`/usr/local/share/ca-certificates`, e.g. a proxy's) are trusted in the image too, so
setup can reach a package index through the same proxy as the host.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from devbot.sandbox.docker import docker_client

SUITE = "bookworm"
PACKAGES = (
    "python3",
    "python3-pytest",
    "python3-venv",
    "git",
    "make",
    "ca-certificates",
    "nodejs",
)
NPM_VERSION = "10.9.9"
NPM_URL = f"https://registry.npmjs.org/npm/-/npm-{NPM_VERSION}.tgz"
NPM_SHA512 = (
    "1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg=="
)
NPM_DIR = "usr/local/lib/node_modules/npm"
HOST_CERTIFICATES = Path("/usr/local/share/ca-certificates")
DOWNLOAD_TIMEOUT_S = 120
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
        say(f"adding npm {NPM_VERSION} from {NPM_URL}")
        add_npm(rootfs, _download(NPM_URL))
        trust_host_certificates(rootfs, HOST_CERTIFICATES)
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


def add_npm(rootfs: Path, tarball: bytes) -> None:
    """Unpack npm's release tarball (checked against NPM_SHA512) into `rootfs`, with `npm`
    and `npx` in /usr/local/bin. Only plain files and folders under `package/` are taken."""
    found = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if found != NPM_SHA512:
        raise ImageBuildError(f"{NPM_URL} does not match its pinned sha512 (got {found})")
    target = rootfs / NPM_DIR
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2 or parts[0] != "package" or ".." in parts:
                continue
            path = target.joinpath(*parts[1:])
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                path.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                path.write_bytes(source.read())
                path.chmod(0o755 if member.mode & 0o111 else 0o644)
    bin_dir = rootfs / "usr/local/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("npm", "npx"):
        (target / "bin" / f"{name}-cli.js").chmod(0o755)
        link = bin_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(f"/{NPM_DIR}/bin/{name}-cli.js")


def trust_host_certificates(rootfs: Path, folder: Path) -> int:
    """Add the host's own CA certificates (`*.crt` in `folder`) to the image's bundle and to
    its /usr/local/share/ca-certificates; how many were added."""
    found = sorted(folder.glob("**/*.crt")) if folder.is_dir() else []
    bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    for certificate in found:
        pem = certificate.read_bytes()
        copy = rootfs / "usr/local/share/ca-certificates" / certificate.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(pem)
        with bundle.open("ab") as handle:
            handle.write(b"\n" + pem.strip() + b"\n")
    return len(found)


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data: bytes = response.read()
    except OSError as exc:
        raise ImageBuildError(f"could not download {url}: {exc}") from None
    return data
