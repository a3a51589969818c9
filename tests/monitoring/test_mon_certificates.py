"""The probe exporter's certificate expiry: read from PEM files at every scrape; unreadable counts as expired."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry

from epj.monitoring.probes import CertificateCollector

NOT_AFTER = dt.datetime(2027, 5, 17, 12, 0, tzinfo=dt.UTC)


def _write_cert(path: Path, not_after: dt.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "epj-platform test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_after - dt.timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_expiry_is_exported_per_certificate_and_follows_a_renewal(tmp_path: Path) -> None:
    helseid = tmp_path / "helseid.crt"
    _write_cert(helseid, NOT_AFTER)
    registry = CollectorRegistry()
    registry.register(  # type: ignore[arg-type]
        CertificateCollector({"helseid": str(helseid), "health-network": str(tmp_path / "missing.crt")})
    )
    name = "epj_certificate_expiry_timestamp_seconds"
    assert registry.get_sample_value(name, {"certificate": "helseid"}) == 1810555200.0  # 2027-05-17T12:00Z
    assert registry.get_sample_value(name, {"certificate": "health-network"}) == 0.0  # missing: as if expired
    _write_cert(helseid, NOT_AFTER + dt.timedelta(days=365))
    assert registry.get_sample_value(name, {"certificate": "helseid"}) == 1810555200.0 + 365 * 86400


def test_garbage_is_reported_as_expired_and_unknown_names_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.crt"
    junk.write_text("not a certificate")
    registry = CollectorRegistry()
    registry.register(CertificateCollector({"health-network": str(junk)}))  # type: ignore[arg-type]
    assert registry.get_sample_value("epj_certificate_expiry_timestamp_seconds", {"certificate": "health-network"}) == 0
    with pytest.raises(ValueError, match="--certificate vpn: unknown certificate"):
        CertificateCollector({"vpn": str(junk)})
