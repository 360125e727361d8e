"""The official test vectors of Chef request signing, from mixlib-authentication's spec
(spec/mixlib/authentication/mixlib_authentication_spec.rb at b4272370; the same values are in chef_authn's
test/chef_authn_tests.erl). See /work/shared/reference/chef-server-api.md section 2.3."""

USER_ID = "spec-user"
BODY = b"Spec Body"
TIMESTAMP = "2009-01-01T12:00:00Z"
PATH = "/organizations/clownco"
METHOD = "POST"
SERVER_API_VERSION = "1"

HASHED_BODY_SHA1 = "DFteJZPVv6WKdQmMqZUQUumUyRs="
HASHED_BODY_SHA256 = "hDlKNZhIhgso3Fs0S0pZwJ0xyBWtR1RBaeHs1DrzOho="
HASHED_CANONICAL_PATH = "YtBWDn1blGGuFIuKksdwXzHU9oE="
DIGESTED_USER_ID = "EAF7Wv/hbAudWV5ZkwKz40Z/lO0="

PRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA0ueqo76MXuP6XqZBILFziH/9AI7C6PaN5W0dSvkr9yInyGHS
z/IR1+4tqvP2qlfKVKI4CP6BFH251Ft9qMUBuAsnlAVQ1z0exDtIFFOyQCdR7iXm
jBIWMSS4buBwRQXwDK7id1OxtU23qVJv+xwEV0IzaaSJmaGLIbvRBD+qatfUuQJB
MU/04DdJIwvLtZBYdC2219m5dUBQaa4bimL+YN9EcsDzD9h9UxQo5ReK7b3cNMzJ
BKJWLzFBcJuePMzAnLFktr/RufX4wpXe6XJxoVPaHo72GorLkwnQ0HYMTY8rehT4
mDi1FI969LHCFFaFHSAaRnwdXaQkJmSfcxzCYQIDAQABAoIBAQCW3I4sKN5B9jOe
xq/pkeWBq4OvhW8Ys1yW0zFT8t6nHbB1XrwscQygd8gE9BPqj3e0iIEqtdphbPmj
VHqTYbC0FI6QDClifV7noTwTBjeIOlgZ0NSUN0/WgVzIOxUz2mZ2vBZUovKILPqG
TOi7J7RXMoySMdcXpP1f+PgvYNcnKsT72UcWaSXEV8/zo+Zm/qdGPVWwJonri5Mp
DVm5EQSENBiRyt028rU6ElXORNmoQpVjDVqZ1gipzXkifdjGyENw2rt4V/iKYD7V
5iqXOsvP6Cemf4gbrjunAgDG08S00kiUgvVWcdXW+dlsR2nCvH4DOEe3AYYh/aH8
DxEE7FbtAoGBAPcNO8fJ56mNw0ow4Qg38C+Zss/afhBOCfX4O/SZKv/roRn5+gRM
KRJYSVXNnsjPI1plzqR4OCyOrjAhtuvL4a0DinDzf1+fiztyNohwYsW1vYmqn3ti
EN0GhSgE7ppZjqvLQ3f3LUTxynhA0U+k9wflb4irIlViTUlCsOPkrNJDAoGBANqL
Q+vvuGSsmRLU/Cenjy+Mjj6+QENg51dz34o8JKuVKIPKU8pNnyeLa5fat0qD2MHm
OB9opeQOcw0dStodxr6DB3wi83bpjeU6BWUGITNiWEaZEBrQ0aiqNJJKrrHm8fAZ
9o4l4oHc4hI0kYVYYDuxtKuVJrzZiEapTwoOcYiLAoGBAI/EWbeIHZIj9zOjgjEA
LHvm25HtulLOtyk2jd1njQhlHNk7CW2azIPqcLLH99EwCYi/miNH+pijZ2aHGCXb
/bZrSxM0ADmrZKDxdB6uGCyp+GS2sBxjEyEsfCyvwhJ8b3Q100tqwiNO+d5FCglp
HICx2dgUjuRVUliBwOK93nx1AoGAUI8RhIEjOYkeDAESyhNMBr0LGjnLOosX+/as
qiotYkpjWuFULbibOFp+WMW41vDvD9qrSXir3fstkeIAW5KqVkO6mJnRoT3Knnra
zjiKOITCAZQeiaP8BO5o3pxE9TMqb9VCO3ffnPstIoTaN4syPg7tiGo8k1SklVeH
2S8lzq0CgYAKG2fljIYWQvGH628rp4ZcXS4hWmYohOxsnl1YrszbJ+hzR+IQOhGl
YlkUQYXhy9JixmUUKtH+NXkKX7Lyc8XYw5ETr7JBT3ifs+G7HruDjVG78EJVojbd
8uLA+DdQm5mg4vd1GTiSK65q/3EeoBlUaVor3HhLFki+i9qpT8CBsg==
-----END RSA PRIVATE KEY-----
"""

PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0ueqo76MXuP6XqZBILFz
iH/9AI7C6PaN5W0dSvkr9yInyGHSz/IR1+4tqvP2qlfKVKI4CP6BFH251Ft9qMUB
uAsnlAVQ1z0exDtIFFOyQCdR7iXmjBIWMSS4buBwRQXwDK7id1OxtU23qVJv+xwE
V0IzaaSJmaGLIbvRBD+qatfUuQJBMU/04DdJIwvLtZBYdC2219m5dUBQaa4bimL+
YN9EcsDzD9h9UxQo5ReK7b3cNMzJBKJWLzFBcJuePMzAnLFktr/RufX4wpXe6XJx
oVPaHo72GorLkwnQ0HYMTY8rehT4mDi1FI969LHCFFaFHSAaRnwdXaQkJmSfcxzC
YQIDAQAB
-----END PUBLIC KEY-----
"""

CANONICAL = {
    "1.0": (
        "Method:POST\n"
        "Hashed Path:YtBWDn1blGGuFIuKksdwXzHU9oE=\n"
        "X-Ops-Content-Hash:DFteJZPVv6WKdQmMqZUQUumUyRs=\n"
        "X-Ops-Timestamp:2009-01-01T12:00:00Z\n"
        "X-Ops-UserId:spec-user"
    ),
    "1.1": (
        "Method:POST\n"
        "Hashed Path:YtBWDn1blGGuFIuKksdwXzHU9oE=\n"
        "X-Ops-Content-Hash:DFteJZPVv6WKdQmMqZUQUumUyRs=\n"
        "X-Ops-Timestamp:2009-01-01T12:00:00Z\n"
        "X-Ops-UserId:EAF7Wv/hbAudWV5ZkwKz40Z/lO0="
    ),
    "1.3": (
        "Method:POST\n"
        "Path:/organizations/clownco\n"
        "X-Ops-Content-Hash:hDlKNZhIhgso3Fs0S0pZwJ0xyBWtR1RBaeHs1DrzOho=\n"
        "X-Ops-Sign:version=1.3\n"
        "X-Ops-Timestamp:2009-01-01T12:00:00Z\n"
        "X-Ops-UserId:spec-user\n"
        "X-Ops-Server-API-Version:1"
    ),
}

EXPECTED_HEADERS = {
    "1.0": {
        "X-Ops-Sign": "algorithm=sha1;version=1.0;",
        "X-Ops-Userid": "spec-user",
        "X-Ops-Timestamp": "2009-01-01T12:00:00Z",
        "X-Ops-Content-Hash": "DFteJZPVv6WKdQmMqZUQUumUyRs=",
        "X-Ops-Authorization-1": "jVHrNniWzpbez/eGWjFnO6lINRIuKOg40ZTIQudcFe47Z9e/HvrszfVXlKG4",
        "X-Ops-Authorization-2": "NMzYZgyooSvU85qkIUmKuCqgG2AIlvYa2Q/2ctrMhoaHhLOCWWoqYNMaEqPc",
        "X-Ops-Authorization-3": "3tKHE+CfvP+WuPdWk4jv4wpIkAz6ZLxToxcGhXmZbXpk56YTmqgBW2cbbw4O",
        "X-Ops-Authorization-4": "IWPZDHSiPcw//AYNgW1CCDptt+UFuaFYbtqZegcBd2n/jzcWODA7zL4KWEUy",
        "X-Ops-Authorization-5": "9q4rlh/+1tBReg60QdsmDRsw/cdO1GZrKtuCwbuD4+nbRdVBKv72rqHX9cu0",
        "X-Ops-Authorization-6": "utju9jzczCyB+sSAQWrxSsXB/b8vV2qs0l4VD2ML+w==",
    },
    "1.1": {
        "X-Ops-Sign": "algorithm=sha1;version=1.1;",
        "X-Ops-Userid": "spec-user",
        "X-Ops-Timestamp": "2009-01-01T12:00:00Z",
        "X-Ops-Content-Hash": "DFteJZPVv6WKdQmMqZUQUumUyRs=",
        "X-Ops-Authorization-1": "UfZD9dRz6rFu6LbP5Mo1oNHcWYxpNIcUfFCffJS1FQa0GtfU/vkt3/O5HuCM",
        "X-Ops-Authorization-2": "1wIFl/U0f5faH9EWpXWY5NwKR031Myxcabw4t4ZLO69CIh/3qx1XnjcZvt2w",
        "X-Ops-Authorization-3": "c2R9bx/43IWA/r8w8Q6decuu0f6ZlNheJeJhaYPI8piX/aH+uHBH8zTACZu8",
        "X-Ops-Authorization-4": "vMnl5MF3/OIlsZc8cemq6eKYstp8a8KYq9OmkB5IXIX6qVMJHA6fRvQEB/7j",
        "X-Ops-Authorization-5": "281Q7oI/O+lE8AmVyBbwruPb7Mp6s4839eYiOdjbDwFjYtbS3XgAjrHlaD7W",
        "X-Ops-Authorization-6": "FDlbAG7H8Dmvo+wBxmtNkszhzbBnEYtuwQqT8nM/8A==",
    },
    "1.3": {
        "X-Ops-Sign": "algorithm=sha256;version=1.3;",
        "X-Ops-Userid": "spec-user",
        "X-Ops-Timestamp": "2009-01-01T12:00:00Z",
        "X-Ops-Content-Hash": "hDlKNZhIhgso3Fs0S0pZwJ0xyBWtR1RBaeHs1DrzOho=",
        "X-Ops-Authorization-1": "FZOmXAyOBAZQV/uw188iBljBJXOm+m8xQ/8KTGLkgGwZNcRFxk1m953XjE3W",
        "X-Ops-Authorization-2": "VGy1dFT76KeaNWmPCNtDmprfH2na5UZFtfLIKrPv7xm80V+lzEzTd9WBwsfP",
        "X-Ops-Authorization-3": "42dZ9N+V9I5SVfcL/lWrrlpdybfceJC5jOcP5tzfJXWUITwb6Z3Erg3DU3Uh",
        "X-Ops-Authorization-4": "H9h9E0qWlYGqmiNCVrBnpe6Si1gU/Jl+rXlRSNbLJ4GlArAPuL976iTYJTzE",
        "X-Ops-Authorization-5": "MmbLUIm3JRYi00Yb01IUCCKdI90vUq1HHNtlTEu93YZfQaJwRxXlGkCNwIJe",
        "X-Ops-Authorization-6": "fy49QzaCIEu1XiOx5Jn+4GmkrZch/RrK9VzQWXgs+w==",
    },
}
