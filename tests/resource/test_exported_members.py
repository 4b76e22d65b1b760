"""The public API of tessera.resource, pinned: a change here is a change for every API that uses it."""

import importlib

import pytest

import tessera.resource

PUBLIC = {
    "tessera.resource": [
        "AccessToken",
        "InsufficientScope",
        "IntrospectionSource",
        "InvalidDPoPProof",
        "InvalidToken",
        "LocalSource",
        "MissingToken",
        "ResourceMetadata",
        "RevocationSubscriber",
        "ServerUnavailable",
        "TokenCache",
        "TokenError",
        "TokenSource",
        "TokenValidator",
    ],
    "tessera.resource.flask": ["ResourceProtector", "current_token"],
    "tessera.resource.fastapi": ["ResourceProtector"],
    "tessera.dpop": [
        "ALGORITHMS",
        "BOUND",
        "LEEWAY",
        "MAX_AGE",
        "MAX_PROOF",
        "LocalReplayCache",
        "Proof",
        "ProofError",
        "RedisReplayCache",
        "ReplayCache",
        "BindingError",
        "access_token_hash",
        "check_binding",
        "check_proof",
        "is_thumbprint",
        "normal_htu",
        "presented_proof",
    ],
    "tessera.events": [
        "CHANGE_KINDS",
        "MAX_DIGESTS_PER_MESSAGE",
        "REVOCATION_CHANNEL",
        "STREAM_MAXLEN",
        "STREAM_MAX_AGE",
        "Changed",
        "Event",
        "MalformedEvent",
        "NotBefore",
        "PublishError",
        "RevocationPublisher",
        "Revoked",
        "changes_stream",
        "decode_entry",
        "decode_revoked",
        "encode_entry",
        "encode_revoked",
    ],
    "tessera.streams": ["StreamFollower"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_exactly_the_public_api(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        assert hasattr(module, name), name


def test_public_classes_say_where_they_live() -> None:
    for name in tessera.resource.__all__:
        member = getattr(tessera.resource, name)
        assert member.__module__.startswith("tessera.resource."), name
        assert member.__doc__, f"{name} has no docstring"
