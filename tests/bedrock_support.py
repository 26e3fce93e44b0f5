"""Helpers for the Bedrock tests: an AWS environment of the test's own (no real credentials, no
instance metadata), transports pointed at the simulator's Bedrock route, and a credential process
that botocore's default chain runs for real, whose keys a test can rotate."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest

from axio_transport_anthropic.bedrock_transport import BedrockTransport
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.simulator.bedrock_auth import TEST_KEYS, AwsKeys

from .support import clear_environment

#: What the credential chain, the region lookup and the endpoint read from the environment.
AWS_ENVIRONMENT: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
)
#: Session credentials the simulator is told to accept, as a role or SSO would hand out.
SESSION_KEYS: Final = AwsKeys(
    "ASIASIMULATORSESSION1", "session/secret/0123456789abcdefghijklmnopqr", "IQoJb3JpZ2luX2VjEXAMPLE-token-one"
)
ROTATED_KEYS: Final = AwsKeys(
    "ASIASIMULATORSESSION2", "session/secret/rotated9876543210zyxwvutsrq", "IQoJb3JpZ2luX2VjEXAMPLE-token-two"
)


def isolate_aws(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """No AWS or Anthropic variable set, config files of the test's own (absent until written),
    instance metadata off. Returns the AWS config file's path."""
    clear_environment(monkeypatch, *AWS_ENVIRONMENT)
    config = home / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config


@pytest.fixture(autouse=True)
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``isolate_aws`` for every test of a module that imports it."""
    return isolate_aws(monkeypatch, tmp_path)


def bedrock(sim: Simulator, keys: AwsKeys | None = TEST_KEYS, **kwargs: Any) -> BedrockTransport:
    """A transport for the simulator's Bedrock route, signing with ``keys`` (``None``: the chain)."""
    given: dict[str, Any] = {
        "base_url": sim.bedrock.endpoint,
        "aws_region": "us-east-1",
        "max_retries": 3,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "first_byte_timeout": 5.0,
        "idle_timeout": 5.0,
        "telemetry": None,
    }
    if keys is not None:
        given.update(aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key)
        if keys.session_token:
            given["aws_session_token"] = keys.session_token
    return BedrockTransport(**{**given, **kwargs})


_PROCESS = """\
import json, sys
from pathlib import Path
keys = Path(sys.argv[1])
with open(sys.argv[2], "a") as runs:
    runs.write("run\\n")
print(keys.read_text())
"""


class CredentialProcess:
    """A ``credential_process`` profile: botocore runs the script, which prints the keys last ``set``."""

    def __init__(self, home: Path, config: Path, profile: str = "sim", *, lifetime: timedelta = timedelta(hours=1)):
        self._keys_file = home / "process-keys.json"
        self._runs_file = home / "process-runs.log"
        self.lifetime = lifetime
        script = home / "credential_process.py"
        script.write_text(_PROCESS)
        command = f"{sys.executable} {script} {self._keys_file} {self._runs_file}"
        with config.open("a") as out:
            out.write(f"[profile {profile}]\ncredential_process = {command}\nregion = us-east-1\n")
        self.profile = profile

    def set(self, keys: AwsKeys) -> None:
        expiry = datetime.now(UTC) + self.lifetime
        document = {
            "Version": 1,
            "AccessKeyId": keys.access_key_id,
            "SecretAccessKey": keys.secret_access_key,
            "SessionToken": keys.session_token,
            "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self._keys_file.write_text(json.dumps(document))

    @property
    def runs(self) -> int:
        return len(self._runs_file.read_text().splitlines()) if self._runs_file.exists() else 0
