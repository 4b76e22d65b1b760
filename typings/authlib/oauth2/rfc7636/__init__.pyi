from .challenge import CodeChallenge, create_s256_code_challenge

__all__ = ["CodeChallenge", "create_s256_code_challenge"]
