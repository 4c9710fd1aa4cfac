"""``np fmt [-check] [-diff] [-recursive] [FILE|DIR|-]...``: rewrite HCL files in the canonical
layout, as ``terraform fmt`` does (``reconciler.config.syntax.hcl_format``).

Without arguments it formats the configuration directory's ``*.hcl`` and ``*.npvars`` files
in place and names each file it changed; ``-check`` changes nothing and exits 3 when a file
needs formatting, which is what a pre-commit hook or a CI job wants. A configuration directory
may come from a pull request, so nothing here follows a symbolic link: linked files and
directories are skipped, a path written inside the configuration directory must stay inside
it, and a file is replaced by renaming a new one over it (its mode kept), never written through.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

from reconciler.cli.app import Globals, cli, with_globals

EXIT_CHECK = 3
"""``-check`` found a file that is not formatted (Terraform's code for it)."""
SUFFIXES = (".hcl", ".npvars")
"""The HCL files np reads: configuration and variable files (``*.npvars.json`` is JSON)."""
STDIN = "-"


@cli.command("fmt")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; list the files that need formatting and exit 3 if there are any.",
)
@click.option("--diff", is_flag=True, help="Print a unified diff of the changes.")
@click.option("--recursive", is_flag=True, help="Also format sub-directories (not dot ones).")
@click.argument("targets", nargs=-1, metavar="[FILE|DIR|-]...")
@with_globals
def fmt(g: Globals, check: bool, diff: bool, recursive: bool, targets: tuple[str, ...]) -> None:
    """Rewrite HCL files (*.hcl, *.npvars) in the canonical layout."""
    from reconciler.errors import NpError

    run = FmtRun(g, check, diff, recursive)
    if STDIN in targets:
        if len(targets) > 1:
            raise NpError("- (standard input) cannot be combined with other files")
        run.stdin()
    else:
        if not targets and not g.chdir.is_dir():
            raise NpError(f"configuration directory {run.shown(g.chdir)} does not exist")
        paths = [g.path(Path(target)) for target in targets] or [g.chdir]
        for path, root in run.files(paths):
            run.one(path, root)
    if run.problems:
        error = NpError(run.problems[0])
        for problem in run.problems[1:]:
            error.also(problem)
        raise error
    if check and run.unformatted:
        sys.exit(EXIT_CHECK)


@dataclass
class FmtRun:
    """One ``np fmt``: its options, and what it found so far."""

    g: Globals
    check: bool
    diff: bool
    recursive: bool
    problems: list[str] = field(default_factory=list)
    """One line each; reported together at the end, after every other file was done."""
    unformatted: bool = False

    # --- which files --------------------------------------------------------------------

    def files(self, paths: list[Path]) -> Iterator[tuple[Path, Path]]:
        """Each file to format with the directory it must stay in, in the order given (a
        directory's files by name, then its sub-directories')."""
        for path in paths:
            root = self._root(path)
            if path.is_symlink() or not path.exists():
                yield path, root  # ``one`` says why it cannot be read
            elif path.is_dir():
                yield from ((found, root) for found in self._walk(path))
            elif path.name.lower().endswith(SUFFIXES):
                yield path, root
            else:
                self.problems.append(
                    f"{self.shown(path)}: np fmt formats HCL files only (*.hcl, *.npvars)"
                )

    def _root(self, path: Path) -> Path:
        """The directory a target must not lead out of: the configuration directory for a
        path written inside it, else the target's own directory (the operator's choice)."""
        inside = os.path.abspath(self.g.chdir)
        written = os.path.abspath(path)
        if written == inside or written.startswith(inside.rstrip(os.sep) + os.sep):
            return self.g.chdir
        return path if path.is_dir() and not path.is_symlink() else path.parent

    def _walk(self, directory: Path) -> Iterator[Path]:
        """The HCL files of ``directory`` by name (links and np's ignored names skipped),
        then with ``-recursive`` those of its sub-directories but dot ones, never through a
        link."""
        from reconciler.config.syntax.files import ignored

        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            self.problems.append(f"{self.shown(directory)}: {describe(exc)}")
            return
        for entry in entries:
            wanted = entry.name.lower().endswith(SUFFIXES) and not ignored(entry.name)
            if wanted and entry.is_file(follow_symlinks=False):
                yield Path(entry.path)
        if self.recursive:
            for entry in entries:
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                    yield from self._walk(Path(entry.path))

    # --- one file -----------------------------------------------------------------------

    def one(self, path: Path, root: Path) -> None:
        """Format one file; a problem is recorded, and the file left as it was."""
        from reconciler.config.syntax.nodes import SourceError
        from reconciler.errors import Pos
        from reconciler.fsutil import confine

        name = self.shown(path)
        try:
            confine(path, root)
            text = decode(read_limited(path))
            formatted = format_text(text, name)
            if formatted == text:
                return
            self.report(name, text, formatted)
            if not self.check:
                replace_keeping_mode(path, formatted)
        except SourceError as exc:
            self.problems.append(f"{Pos(name, exc.line)}: {exc.message}")
        except OSError as exc:
            self.problems.append(f"{name}: {describe(exc)}")

    def stdin(self) -> None:
        """``np fmt -``: standard input formatted to standard output (with ``-diff`` the
        diff instead; with ``-check`` only the exit code)."""
        from reconciler.config.syntax.nodes import MAX_FILE_BYTES, SourceError
        from reconciler.errors import Pos

        name = "<stdin>"
        try:
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
            text = decode(data)
            formatted = format_text(text, name)
        except SourceError as exc:
            self.problems.append(f"{Pos(name, exc.line)}: {exc.message}")
            return
        self.unformatted = formatted != text
        if self.diff:
            click.echo(unified_diff(text, formatted, "<stdin>"), nl=False)
        elif not self.check:
            click.echo(formatted, nl=False)

    def report(self, name: str, text: str, formatted: str) -> None:
        """Name a file that is (or was) not formatted; its diff with ``-diff``."""
        self.unformatted = True
        self.g.say(name)
        if self.diff:
            click.echo(unified_diff(text, formatted, name), nl=False)

    def shown(self, path: Path) -> str:
        """``path`` as the user knows it: relative to the configuration directory when it is
        inside it (``np -C infra fmt`` prints ``main.hcl``), else as written."""
        from reconciler.errors import shown

        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(self.g.chdir))
        return shown(str(path) if relative.startswith("..") else relative)


# --- reading, formatting, writing -----------------------------------------------------------


def read_limited(path: Path) -> bytes:
    """The file's bytes, never through a symbolic link, bounded as the configuration loader
    bounds them (``SourceError`` beyond)."""
    from reconciler.config.syntax.nodes import MAX_FILE_BYTES, SourceError
    from reconciler.fsutil import read_bytes

    data = read_bytes(path, MAX_FILE_BYTES)
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"file is larger than {size(MAX_FILE_BYTES)}", 0)
    return data


def decode(data: bytes) -> str:
    """UTF-8 text or a ``SourceError`` naming the line, as the loader words it."""
    from reconciler.config.syntax.nodes import MAX_FILE_BYTES, SourceError
    from reconciler.config.syntax.sources import decode_text

    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"input is larger than {size(MAX_FILE_BYTES)}", 0)
    return decode_text(data)


def size(limit: int) -> str:
    """A byte limit as the loader words it (64 MiB), in bytes below a MiB."""
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib else f"{limit:,} bytes"


def format_text(text: str, name: str) -> str:
    """``hcl_format.format_hcl``, a file nested too deeply for Python's stack included."""
    from reconciler.config.syntax.hcl_format import format_hcl
    from reconciler.config.syntax.nodes import SourceError

    try:
        return format_hcl(text, name)
    except RecursionError:
        raise SourceError("file is nested too deeply", 1) from None


def unified_diff(text: str, formatted: str, name: str) -> str:
    lines = difflib.unified_diff(
        text.splitlines(keepends=True),
        formatted.splitlines(keepends=True),
        f"old/{name}",
        f"new/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def replace_keeping_mode(path: Path, text: str) -> None:
    """Put ``text`` in place of ``path`` by renaming a new file over it, with the old file's
    mode: readers see the old or the new file whole, and a link put there since is replaced,
    not written through. A file np may not write is refused, although the directory would
    let a rename replace it."""
    from reconciler.fsutil import atomic_write

    status = os.lstat(path)
    if not os.access(path, os.W_OK, follow_symlinks=False):
        raise PermissionError(13, "cannot write the file: permission denied")
    atomic_write(path, text, mode=status.st_mode & 0o7777)


def describe(exc: OSError) -> str:
    """An ``OSError`` as one short clause (no errno numbers, no repeated path)."""
    from reconciler.fsutil import OutsideDirectory, SymlinkRefused

    if isinstance(exc, SymlinkRefused):
        return "is a symbolic link; np fmt does not follow it"
    if isinstance(exc, OutsideDirectory):
        return f"{exc.strerror} through a symbolic link; np fmt does not follow it out"
    if isinstance(exc, FileNotFoundError):
        return "does not exist"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return exc.strerror or str(exc)
