name: str
version: str
author: str
homepage: str
default_user_agent: str
default_json_headers: list[tuple[str, str]]
