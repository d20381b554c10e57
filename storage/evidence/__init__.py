"""Signed evidence packages: build a ZIP of clips with a signed manifest, and verify one.

Package layout (every member stored, not compressed, so members can be hashed and checked in place)::

    clips/<camera>_<UTC start>.mp4   the clip file(s), stream copies of the recordings
    README.txt                       how to verify (ru/en); listed and hashed in the manifest
    manifest.json                    what, when, who, why, and the size and SHA-256 of every listed file
    manifest.sig                     Ed25519 signature over the exact bytes of manifest.json
    station_public_key.pem           the station's public key; its fingerprint is in the manifest

One module a job:

- :mod:`storage.evidence.manifest`: what goes into a package and its manifest (pure), the member names;
- :mod:`storage.evidence.zip_stream`: writing ZIP members in place and hashing them while or after they are
  written;
- :mod:`storage.evidence.writer`: :class:`~storage.evidence.writer.PackageWriter` and
  :func:`~storage.evidence.writer.build_package`, which write and sign a package;
- :mod:`storage.evidence.report`: the verdict and the report of a check;
- :mod:`storage.evidence.zip_layout`: where each member of a ZIP under verification lies, refused when it
  lies outside the file or over another member's bytes;
- :mod:`storage.evidence.verifier`: :func:`~storage.evidence.verifier.verify_package`, which checks one
  (a package is hostile until checked: see that module for the limits);
- :mod:`storage.evidence.error`: the errors, a tree under :class:`~storage.evidence.error.EvidenceError`.

Import from the module that owns a name; this package re-exports nothing.
"""
