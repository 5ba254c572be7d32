"""Small pure pieces at the edges: masking, tokens, settings."""

import time

import jwt
import pytest

from crm.settings import ConfigurationError, Settings
from http_facade.auth import decode_token
from http_facade.errors import ApiError
from http_facade.masking import mask_phone, masked
from tests.helpers import TEST_SECRET, make_token


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86*******5678"
    assert mask_phone("12345") == "***45"


def test_masked_leaves_pii_holders_alone() -> None:
    view = {"phone": "13812345678", "name": "A"}
    assert masked(view, sees_pii=False)["phone"] == "138****5678"
    assert masked(view, sees_pii=True)["phone"] == "13812345678"
    assert view["phone"] == "13812345678"  # not mutated


@pytest.mark.parametrize(
    "token",
    [
        make_token(exp=int(time.time()) - 120),  # expired
        make_token(secret="another-secret-0123456789-0123456789"),  # wrong signature
        make_token(exp=None),  # no exp
        make_token(tenant=None),  # no tenant
        jwt.encode(  # permissions not a list
            {
                "sub": "u",
                "tenant": "t",
                "permissions": "customers.read",
                "exp": int(time.time()) + 60,
            },
            TEST_SECRET,
        ),
        jwt.encode(
            {"sub": "u", "tenant": "t", "exp": int(time.time()) + 60}, None, algorithm="none"
        ),
        make_token(algorithm="HS384"),
    ],
)
def test_bad_tokens_are_401(token: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_token(token, TEST_SECRET)
    assert caught.value.status == 401


def test_good_token_decodes() -> None:
    claims = decode_token(make_token(), TEST_SECRET)
    assert claims["tenant"] == "t1"


def test_production_settings_refuse_missing_or_short_secret() -> None:
    with pytest.raises(ConfigurationError, match="CRM_JWT_SECRET"):
        Settings(
            kafka_url="kafka:9092", mongo_url="mongodb://m:27017", jwt_secret=None
        ).validate_for_production()
    with pytest.raises(ConfigurationError, match="at least"):
        Settings(
            kafka_url="kafka:9092", mongo_url="mongodb://m", jwt_secret="short"
        ).validate_for_production()


def test_settings_refuse_malformed_urls() -> None:
    secret = "x" * 40
    with pytest.raises(ConfigurationError, match="CRM_MONGO_URL"):
        Settings(
            mongo_url="http://nope", kafka_url="k:9092", jwt_secret=secret
        ).validate_for_production()
    with pytest.raises(ConfigurationError, match="CRM_KAFKA_URL"):
        Settings(
            mongo_url="memory", kafka_url="no-port", jwt_secret=secret
        ).validate_for_production()


def test_embedded_settings_need_no_secret() -> None:
    settings = Settings(kafka_url=None, mongo_url=None, jwt_secret=None)
    settings.validate_for_production()
    assert settings.embedded
    assert settings.effective_jwt_secret
