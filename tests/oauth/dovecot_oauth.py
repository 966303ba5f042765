"""Dovecot 2.3 with ``passdb { driver = oauth2 }`` checking tokens at the provider's
introspection endpoint (RFC 7662, POST), for XOAUTH2 and OAUTHBEARER.

The base class's configuration is kept and only its authentication is replaced: the user
name is the token's ``sub`` (a mail address), and the userdb looks the mailbox up by the
part before the "@" (``%n``), so ``alice@example.test`` reads ``passwd.d/alice``.
"""

from __future__ import annotations

from tests.support.dovecot import Dovecot

_MECHANISMS = "auth_mechanisms = plain login cram-md5 apop scram-sha-256\n"


class OAuthDovecot(Dovecot):
    def __init__(self, introspection_url: str, client: str, secret: str) -> None:
        super().__init__(users={"alice": "unused-password"})
        scheme, rest = introspection_url.split("://", 1)
        self.introspection_url = f"{scheme}://{client}:{secret}@{rest}"

    def _config(self) -> str:
        base = super()._config()
        if _MECHANISMS not in base:
            raise AssertionError("tests/support/dovecot.py changed its auth_mechanisms line")
        base = base.replace(_MECHANISMS, "auth_mechanisms = xoauth2 oauthbearer\n")
        start = base.index("passdb {")
        end = base.index("service pop3-login {")
        oauth_conf = self.root / "dovecot-oauth2.conf.ext"
        oauth_conf.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self.introspection_url}\n"
            "username_attribute = sub\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        oauth_conf.chmod(0o644)
        auth = f"""passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth_conf}
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {self.passwd_dir}/%n
}}

"""
        return base[:start] + auth + base[end:]
