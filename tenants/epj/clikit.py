"""What every ``epj`` command shares: checking input before work, one plain message on bad input.

The developers' rule: bad input gets *one plain message saying what is wrong and what to do*,
a non-zero exit, nothing half-written, never a traceback and never a false success. The
pieces here make that the easy path for every area's ``cli`` module:

* :class:`BadInput` — raise it anywhere in a command; the root command prints
  ``error: <what is wrong>; <what to do>`` on stderr and exits 2.
* checkers (:func:`check_tenant`, :func:`check_period`, :func:`check_date`, :func:`check_out_dir`,
  :func:`check_file`, :func:`check_dsn`, :func:`check_database`, :func:`check_namespace`) that
  commands call *before* doing any work, and matching ``typer`` callbacks.
* :func:`staged_dir` — write a command's output into a scratch folder and move it into place
  only when the command succeeded, so a failure leaves nothing half-written.
* :class:`SafeGroup` — the root command's group: usage errors become one plain line, and any
  exception a command did not expect becomes one plain line too (``EPJ_DEBUG=1`` shows the
  traceback).

Typer and click are imported here, so this module belongs to the CLI adapter layer, never the core.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer._click.exceptions import ClickException, UsageError  # typer vendors click: these are raised
from typer.core import TyperGroup

from epj.numbers import fmt_decimal, fmt_int

if TYPE_CHECKING:
    from epj.tenants import Tenant

__all__ = ["BadInput", "SafeGroup", "fail", "fmt_decimal", "fmt_int", "staged_dir"]

DEBUG_ENV = "EPJ_DEBUG"
"""Set to 1 to see the Python traceback of an unexpected error instead of the one-line message."""

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


class BadInput(ClickException):
    """Input a command cannot work with: printed as one plain line, exit 2, nothing written."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, what: str, todo: str | None = None) -> None:
        super().__init__(f"{what}; {todo}" if todo else what)

    def format_message(self) -> str:
        return self.message


def fail(what: str, todo: str | None = None) -> NoReturn:
    """Refuse bad input: ``fail("--period 2027-13 is not a month", "give YYYY-MM, e.g. 2027-03")``."""
    raise BadInput(what, todo)


# ----------------------------------------------------------------------------------------------
# Checkers: each returns the cleaned value or raises BadInput naming the option and the fix.

_KOMMUNENR = re.compile(r"^[0-9]{4}$")
_PERIOD = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_kommunenr(value: str, option: str = "--tenant") -> str:
    """A 4-digit kommunenummer (format only; :func:`check_tenant` also checks it exists)."""
    value = value.strip()
    if not _KOMMUNENR.match(value):
        fail(f"{option} {value!r} is not a kommunenummer", "give the 4-digit number, e.g. 5035 (see: epj tenants list)")
    return value


def check_tenant(value: str, option: str = "--tenant", *, active_in: str | None = None) -> Tenant:
    """A municipality in tenants/ (and provisioned in ``active_in`` when given)."""
    from epj.tenants import TenantSetInvalid, load_tenants

    number = check_kommunenr(value, option)
    try:
        tenants = load_tenants()
    except TenantSetInvalid as exc:
        fail(f"the tenant files are invalid ({len(exc.errors)} error(s))", "run: epj tenants validate")
    try:
        tenant = tenants.get(number)
    except KeyError:
        fail(f"{option} {number}: no municipality with that kommunenummer", "see: epj tenants list")
    if active_in is not None and tenant not in tenants.active(active_in):
        why = "its option is not called" if not tenant.active else f"it does not run in {active_in}"
        fail(f"{option} {number} ({tenant.name}) is not provisioned in {active_in}: {why}", "see: epj tenants list")
    return tenant


def check_period(value: str, option: str = "--period") -> str:
    """A month as ``YYYY-MM`` (01–12)."""
    match = _PERIOD.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        fail(f"{option} {value!r} is not a month", "give YYYY-MM, e.g. 2027-03")
    return value.strip()


def check_date(value: str, option: str) -> dt.date:
    """A calendar date as ``YYYY-MM-DD`` that exists (2030-02-30 does not)."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r} is not a date", "give YYYY-MM-DD, e.g. 2027-03-15")


def check_file(path: Path, option: str, what: str = "file") -> Path:
    """An existing, readable file."""
    if not path.exists():
        fail(f"{option} {path}: no such {what}", "check the path")
    if path.is_dir():
        fail(f"{option} {path} is a folder", f"give the {what} itself")
    if not os.access(path, os.R_OK):
        fail(f"{option} {path}: cannot read it (permission denied)", "check its permissions")
    return path


def check_dir(path: Path, option: str, what: str = "folder") -> Path:
    """An existing folder."""
    if not path.exists():
        fail(f"{option} {path}: no such {what}", "check the path")
    if not path.is_dir():
        fail(f"{option} {path} is a file", f"give the {what}")
    return path


def check_out_dir(path: Path, option: str = "--out") -> Path:
    """An output folder: may exist (as a folder) or not yet; its parent must be creatable/writable."""
    if path.exists() and not path.is_dir():
        fail(f"{option} {path} is an existing file", "give a folder (it is created when missing)")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        fail(f"{option} {path}: {parent} is a file", "give a folder path")
    if not os.access(parent, os.W_OK):
        fail(f"{option} {path}: {parent} is not writable", "give a folder you may write to")
    return path


def check_positive(value: float | None, option: str, *, allow_zero: bool = False) -> None:
    """A finite number that must be > 0 (or >= 0): nan and inf are refused too."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        fail(f"{option} {value:g} is not allowed", f"give a number {bound}")


def check_namespace(value: str, option: str = "--namespace") -> str:
    """A Kubernetes namespace name (RFC 1123 label: lower-case letters, digits, '-', at most 63)."""
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        fail(
            f"{option} {value!r} is not a valid Kubernetes namespace",
            "use lower-case letters, digits and '-', at most 63 characters, e.g. kommune-5035",
        )
    return value


def check_env(value: str, option: str = "--env") -> str:
    """An environment (= Pulumi stack) the tenant files know: test or prod."""
    from epj.tenants import Environment

    try:
        return Environment(value).value
    except ValueError:
        fail(f"{option} {value!r}: unknown environment", f"use one of {', '.join(e.value for e in Environment)}")


def check_url(value: str, option: str) -> str:
    """An http(s) URL (Prometheus, Alertmanager, …)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"{option} {value!r} is not an http(s) URL", "give e.g. http://prometheus:9090")
    return value


def check_choice(value: str, choices: Sequence[str], option: str) -> str:
    """One of a few words."""
    if value not in choices:
        fail(f"{option} {value!r} is not one of {', '.join(choices)}", f"use e.g. {option} {choices[0]}")
    return value


def mask_dsn(dsn: str) -> str:
    """A connection URL without its password (safe in messages)."""
    return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", dsn)


def check_dsn(dsn: str, option: str = "--dsn") -> str:
    """A PostgreSQL URL or conninfo string the driver can parse (no connection yet)."""
    from psycopg.conninfo import conninfo_to_dict

    if not dsn.startswith(("postgresql://", "postgres://")) and "=" not in dsn:
        fail(f"{option} {mask_dsn(dsn)!r} is not a PostgreSQL address", "give postgresql://USER@HOST:PORT/DATABASE")
    netloc = dsn.split("://", 1)[-1].split("/", 1)[0] if "://" in dsn else ""
    if netloc.count("@") > 1:
        fail(f"{option} {mask_dsn(dsn)!r}: the address has two '@'", _dsn_hint(dsn))
    if "://" in dsn and re.search(r"%(?![0-9A-Fa-f]{2})|%00", dsn):  # libpq would quote the token
        fail(
            f"{option} {mask_dsn(dsn)!r}: the address has a '%' that is not followed by two hex digits",
            "percent-encode a '%' in the password as %25 (and '@' as %40), or give it in PGPASSWORD",
        )
    try:
        conninfo_to_dict(dsn)
    except Exception as exc:  # psycopg.ProgrammingError: its message names the bad part
        fail(f"{option} {mask_dsn(dsn)!r} cannot be read: {_first_line(exc)}", _dsn_hint(dsn))
    return dsn


def _dsn_hint(dsn: str, *, connecting: bool = False) -> str:
    netloc = dsn.split("://", 1)[-1].split("/", 1)[0]
    if netloc.count("@") > 1:
        return "the password contains '@': percent-encode it as %40"
    if connecting:
        return "check the host, port, database name and user, and that PostgreSQL is running"
    return "give postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE"


def check_database(dsn: str, option: str = "--dsn", timeout_s: int = 5) -> str:
    """Connect once (before any work) so a wrong address or database fails now, in one line."""
    import psycopg

    check_dsn(dsn, option)
    try:
        with psycopg.connect(dsn, connect_timeout=timeout_s):
            pass
    except psycopg.Error as exc:
        fail(f"{option} {mask_dsn(dsn)}: cannot connect: {_first_line(exc)}", _dsn_hint(dsn, connecting=True))
    return dsn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Multiple connection attempts failed", "- host")):
            return _safe(line)
    return type(exc).__name__


def _safe(text: str) -> str:
    """Remove what a message must never carry: passwords in URLs, national ids."""
    from epj.telemetry.redact import redact

    return redact(re.sub(r"(://[^:/@\s]*:)[^/\s]*@", r"\1***@", text))[:400]


# typer callbacks (value → value, or BadInput), for options checked while parsing.


def tenant_callback(value: str | None) -> str | None:
    return None if value is None else check_tenant(value).kommunenummer


def period_callback(value: str | None) -> str | None:
    return None if value is None else check_period(value)


def namespace_callback(value: str) -> str:
    return check_namespace(value)


# ----------------------------------------------------------------------------------------------
# Nothing half-written.


@contextlib.contextmanager
def staged_dir(out: Path, owned: Sequence[str] = ()) -> Iterator[Path]:
    """Yield a scratch folder beside ``out``; on success move its files into ``out``, on failure drop it.

    ``out`` may already hold files (they are replaced one by one by the new ones); the sub-folders
    named in ``owned`` belong to the command and are replaced whole (stale generated files go).
    When the command fails, ``out`` is exactly as before (and not created when it did not exist).
    """
    check_out_dir(out)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        if not out.exists():
            scratch.rename(out)
            return
        for name in owned:
            if (scratch / name).is_dir() and (out / name).is_dir():
                shutil.rmtree(out / name)
        for item in sorted(scratch.rglob("*")):
            target = out / item.relative_to(scratch)
            if item.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# The root group: one plain line for every error.


def _command_path(exc: ClickException) -> str | None:
    ctx = getattr(exc, "ctx", None)
    return ctx.command_path if ctx is not None else None


def _explain(exc: BaseException) -> tuple[str, int]:
    """One plain line for an exception no command handled, and the exit code."""
    import yaml

    from epj.tenants import TenantSetInvalid

    if isinstance(exc, TenantSetInvalid):
        return f"the tenant files are invalid ({len(exc.errors)} error(s)); run: epj tenants validate", 1
    if isinstance(exc, FileNotFoundError):
        return f"no such file or folder: {exc.filename}; check the path", EXIT_BAD_INPUT
    if isinstance(exc, IsADirectoryError | NotADirectoryError | FileExistsError):
        return f"{exc.strerror}: {exc.filename}; give another path", EXIT_BAD_INPUT
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}; check its permissions", EXIT_BAD_INPUT
    if isinstance(exc, yaml.YAMLError):
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        return f"a YAML file cannot be read{at}: {problem}; fix the file", EXIT_BAD_INPUT
    if type(exc).__module__.startswith("psycopg"):
        return f"PostgreSQL: {_first_line(exc)}; check the database address and that it is reachable", 1
    if isinstance(exc, KeyError):
        return f"{exc.args[0] if exc.args else exc}", EXIT_BAD_INPUT
    if isinstance(exc, ValueError):
        return f"{_first_line(exc)}", EXIT_BAD_INPUT
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".rstrip(": "), 1
    return f"unexpected {type(exc).__name__}: {_first_line(exc)}", EXIT_INTERNAL


_INLINE_DEFAULT = re.compile(r"\s*\((?:default|Default): ([^()]*(?:\([^()]*\)[^()]*)*)\)\.?|\s*Default: ([^.]*)\.")
_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "bool": "", "datetime": "DATE[THH:MM]"}


def _readable_type(param: Any) -> str:
    """What to type for a parameter, in the words click uses (TEXT, PATH, INTEGER), never ``<bool>``."""
    desc = param.type_descriptor
    if getattr(param, "is_flag", False):
        return ""
    if desc.is_path:
        word = "PATH"
    elif desc.is_choice:
        word = "|".join(str(c) for c in desc.choices or ())
    elif desc.is_datetime:
        word = _TYPE_WORDS["datetime"]
    else:
        inner = desc.annotation
        if getattr(inner, "__origin__", None) is list:
            inner = inner.__args__[0]
        word = _TYPE_WORDS.get(getattr(inner, "__name__", ""), "TEXT")
    return f"{word}..." if desc.is_list and word else word


def tidy_help(command: Any) -> None:
    """Make every command's help read the same way (one pass over the tree, before parsing).

    * the type column shows TEXT / PATH / INTEGER / NUMBER (``...`` when repeatable) and nothing
      for a flag, instead of typer's ``<str>``, ``<bool>``, ``<list[str]>``;
    * a default written into the help text ("(default: now)") moves to the ``[default: now]``
      column every other option uses, so defaults are shown one way.
    """
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)
    from typer._click import Context

    help_option = command.get_help_option(Context(command))
    if help_option is not None and help_option.metavar is None:
        help_option.metavar = ""
    for param in getattr(command, "params", []):
        if not hasattr(param, "type_descriptor"):
            continue
        if param.param_type_name == "option" and param.metavar is None:
            param.metavar = _readable_type(param)
        elif param.param_type_name == "argument" and getattr(param, "hidden", False):
            setattr(param, "get_usage_pieces", lambda ctx: [])  # noqa: B010  (a deprecated spelling, not offered)
        elif param.param_type_name == "argument" and not getattr(param, "_epj_tidy", False):
            # Arguments show their type from display_type_rich (metavar is their name in messages).
            word = _readable_type(param)
            setattr(param, "display_type_rich", lambda ctx, word=word: word)  # noqa: B010
            param._epj_tidy = True
        help_text = getattr(param, "help", None)
        if help_text and param.param_type_name == "option":
            match = _INLINE_DEFAULT.search(help_text)
            if match and not isinstance(param.show_default, str):
                param.show_default = (match.group(1) or match.group(2)).strip()
                param.help = (help_text[: match.start()] + help_text[match.end() :]).strip()
                if param.help and not param.help.endswith((".", ")", "?")):
                    param.help += "."


class SafeGroup(TyperGroup):
    """The ``epj`` group: every error — a usage error, bad input, or an exception nobody expected — is one plain line.

    Typer would draw usage errors in a box and unexpected errors as a traceback; an operator at
    03:00 needs the sentence instead. ``EPJ_DEBUG=1`` re-raises unexpected errors for developers.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        tidy_help(self)
        try:
            rv = super().main(
                args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
        except ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed
                return self._finish(standalone_mode, None, exc.exit_code)
            where = _command_path(exc)
            text = exc.format_message().replace("\n", " ")
            if isinstance(exc, UsageError) and not isinstance(exc, BadInput) and where:
                text = f"{text} (see: {where} --help)"
            return self._finish(standalone_mode, f"error: {text}", exc.exit_code)
        except typer.Abort:
            return self._finish(standalone_mode, "error: aborted; nothing more was done", 1)
        except Exception as exc:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            message, code = _explain(exc)
            hint = f" (to see the Python traceback, run again with {DEBUG_ENV}=1)" if code == EXIT_INTERNAL else ""
            return self._finish(standalone_mode, f"error: {message}{hint}", code)
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return rv

    @staticmethod
    def _finish(standalone_mode: bool, line: str | None, code: int) -> Any:
        if line is not None:
            typer.echo(line, err=True)
        if standalone_mode:
            sys.exit(code)
        return code
