"""One result of checking an evidence package: a :class:`Finding`, a stable ``code`` with its values.

Each code has one English template with named ``{field}`` placeholders (:data:`FINDING_TEMPLATES`); the
template is also the message id the console translates (storage knows no catalogs), and
:attr:`Finding.message` fills it in English for the CLI and the logs. The values are raw: some come from the
package (file names, quoted manifest values), so escape them before showing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final


class FindingLevel(StrEnum):
    ERROR = "error"  # the package is not intact
    WARNING = "warning"  # intact, but the signer is not trusted
    PASSED = "passed"  # a check that matched


FINDING_TEMPLATES: Final[Mapping[str, str]] = {
    # where the members lie in the ZIP, and how they are stored
    "member_header_outside": "{name}: its local header lies outside the ZIP's members",
    "member_no_header": "{name}: no local header where the directory says",
    "member_header_mismatch": "{name}: its local header names another file",
    "member_past_end": "{name}: its {size} bytes run past the end of the ZIP's members (byte {end})",
    "member_overlap": "{name}: its bytes overlap those of {other}",
    "member_encrypted": "{name}: encrypted: the members of an evidence package are not encrypted",
    "member_compressed": (
        "{name}: compressed (method {method}): every member of an evidence package is stored (method 0); "
        "it is not unpacked"
    ),
    "member_size_mismatch": "{name}: stored, yet declares {unpacked} bytes unpacked and {stored} stored",
    "member_too_large": "{name}: {size} bytes, more than the {limit} it may have",
    "member_duplicate": "{name}: appears more than once in the ZIP",
    "member_unsafe_name": "{name}: unsafe file name in the ZIP",
    # the signature and the signer
    "key_missing": "{file}: missing from the package",
    "key_unreadable": "{file}: cannot be read: not a public key in PEM form",
    "key_not_ed25519": "{file}: not an Ed25519 public key but a key of type {kind}",
    "signature_missing": "{file}: missing: the manifest is not signed",
    "signature_valid": "{file}: valid Ed25519 signature over {manifest} by key {key}",
    "signature_mismatch": (
        "{file}: signature does not match {manifest} with the package's public key ({key}): the manifest or "
        "the signature was altered"
    ),
    "signer_trusted": "signer: the package is signed by trusted station key {key}",
    "signer_untrusted": (
        "signer unknown: the package is signed by key {key}, which is not a trusted station key ({trusted}): "
        "its signature shows the package is unchanged since it was signed, not who signed it"
    ),
    "signer_no_trusted_key": (
        "signer unknown: no trusted station key to compare key {key} with: its signature shows the package "
        "is unchanged since it was signed, not who signed it"
    ),
    "fingerprint_mismatch": "{file}: fingerprint {key} differs from the manifest's {declared}",
    "fingerprint_match": "{file}: fingerprint matches the manifest ({declared})",
    # the manifest
    "manifest_nested_too_deeply": "{file}: nested too deeply; cannot check the files",
    "manifest_not_json": "{file}: not valid JSON (line {line}, column {column}); cannot check the files",
    "manifest_not_utf8": "{file}: not valid JSON: byte {position} is not UTF-8 text; cannot check the files",
    "manifest_number_too_long": (
        "{file}: not valid JSON: a number has more than {limit} digits; cannot check the files"
    ),
    "manifest_too_deep": "{file}: nested more than {limit} levels deep; cannot check the files",
    "manifest_unknown_format": "{file}: unknown format {found} (expected {expected})",
    "manifest_unknown_field": "{file}: unknown field {field} (not in {format})",
    "manifest_field_type": "{file}: field {field} is {actual}, expected {expected}",
    "manifest_clip_malformed": "{file}: clip {index} is malformed: {excerpt}",
    "manifest_no_files": "{file}: lists no files",
    "manifest_too_many_files": "{file}: lists {count} files, more than the {limit} a package may hold",
    "manifest_file_entry_malformed": "{file}: malformed file entry {excerpt}",
    # the listed files
    "file_listed_twice": "{name}: listed more than once in the manifest",
    "file_missing": "{name}: listed in the manifest but missing from the package",
    "file_added": "{name}: in the package but not listed in the signed manifest (added file)",
    "file_unreadable": "{name}: its bytes cannot be read from the package file",
    "file_read_twice": (
        "{name}: reading its {size} bytes would read more than the {total} bytes of the package file: "
        "the ZIP names some bytes twice"
    ),
    "file_altered_size": "{name}: altered: size expected {expected} bytes, actual {actual}",
    "file_altered_hash": "{name}: altered: SHA-256 expected {expected}, actual {actual}",
    "file_altered_size_and_hash": (
        "{name}: altered: size expected {expected_size} bytes, actual {actual_size}; SHA-256 expected "
        "{expected_sha256}, actual {actual_sha256}"
    ),
    "file_ok": "{name}: {size} bytes, SHA-256 {sha256}",
}


#: The values of these findings' params that are English phrases of ours from a fixed set (a JSON type:
#: ``a number``, ``an object or null``; :data:`storage.evidence.verifier.FIELD_TYPE_PHRASES`), not values
#: from the package: a reader's language translates them like the template.
PHRASE_PARAMS: Final[Mapping[str, tuple[str, ...]]] = {"manifest_field_type": ("actual", "expected")}


@dataclass(frozen=True)
class Finding:
    """One check's result: its level, its code (a key of :data:`FINDING_TEMPLATES`) and the values."""

    level: FindingLevel
    code: str
    params: dict[str, str | int] = field(default_factory=dict)

    @classmethod
    def of(cls, level: FindingLevel, code: str, **params: object) -> Finding:
        """A finding with its values as text or whole numbers (None and others become their ``str``)."""
        if code not in FINDING_TEMPLATES:
            raise KeyError(f"no finding {code!r}")
        return cls(level, code, {key: _value(value) for key, value in params.items()})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding from its :func:`dataclasses.asdict` form (KeyError/ValueError when it is none)."""
        params = data["params"]
        if not isinstance(params, dict):
            raise ValueError(f"finding params are not an object: {params!r}")
        return cls.of(FindingLevel(data["level"]), str(data["code"]), **params)

    @property
    def template(self) -> str:
        return FINDING_TEMPLATES[self.code]

    @property
    def message(self) -> str:
        """The English sentence (raw: values from the package are not escaped)."""
        return self.template.format_map(self.params)


def _value(value: object) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return value if isinstance(value, str) else str(value)
