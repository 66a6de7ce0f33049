import base64, hashlib
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

async def test_smoke(demo, agent):
    c = await agent.client()
    info = await c.call("agent.info")
    print(info)
    certs = await c.call("certificates.list")
    print([x["subject_display"] for x in certs["certificates"]])
    d = hashlib.sha256(b"x").digest()
    r = await c.call("sign.hash", {"digest": base64.b64encode(d).decode(), "certificate": cert_thumbprint(demo, "org")})
    print(r["algorithm"])
    r = await c.request("auth.challenge", {"nonce": "A"*44, "certificate": cert_thumbprint(demo, "org")})
    print(r)
    print(agent.prompter.prompts)
    print(agent.audit_lines())
