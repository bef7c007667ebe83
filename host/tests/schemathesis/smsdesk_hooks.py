"""Schemathesis hooks for smsdesk's schema fuzzer test (host/tests/it/schema_fuzz.rs).

Plugin uploads are raw component bytes (`application/wasm`): send whatever
schemathesis generates for them as bytes, as it does for
`application/octet-stream`.
"""

import schemathesis

schemathesis.serializer.alias("application/wasm", "application/octet-stream")
