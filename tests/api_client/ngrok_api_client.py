"""ngrok's official Python API client (PyPI `ngrok-api`) against a Ferry edge: the DESIGN
promise that ngrok's API clients, given Ferry's base URL, work. scripts/test.sh runs it with
the edge's API URL and key: python ngrok_api_client.py API_URL API_KEY."""

import sys

import ngrok


def main(base_url: str, api_key: str) -> None:
    client = ngrok.Client(api_key, base_url=base_url)

    bot = client.bot_users.create(name="python bot")
    assert bot.id.startswith("bot_") and bot.active, bot
    made = []
    for i in range(3):
        cred = client.credentials.create(
            description=f"py {i}", owner_id=bot.id, acl=["bind:*.py.example.test"]
        )
        assert cred.token and cred.acl == ["bind:*.py.example.test"], cred
        made.append(cred.id)

    # The iterator follows next_page_uri (absolute) page by page.
    seen = [c.id for c in client.credentials.list(limit="1")]
    assert all(m in seen for m in made), (made, seen)
    assert seen.index(made[2]) < seen.index(made[0]), "newest first"
    assert client.credentials.get(made[0]).token is None

    cred = client.credentials.update(id=made[0], description="renamed", acl=[])
    assert cred.description == "renamed" and cred.acl == [], cred

    rd = client.reserved_domains.create(domain="*.py.example.test", description="wild")
    assert rd.domain == "*.py.example.test", rd
    assert rd.certificate_management_policy.private_key_type == "ecdsa", rd
    assert rd.acme_challenge_cname_target, rd
    # The client always sends "resolves_to": [] on update.
    rd = client.reserved_domains.update(id=rd.id, description="still wild")
    assert rd.description == "still wild", rd

    ingress = client.agent_ingresses.create(domain="connect.py.example.test")
    assert ingress.region_domains and ingress.ns_targets, ingress
    assert ingress.uri == f"/agent_ingresses/{ingress.id}", ingress

    key = client.api_keys.create(description="python key")
    assert key.token and key.id.startswith("ak_"), key
    assert any(k.id == key.id for k in client.api_keys.list())
    client.api_keys.delete(key.id)

    addr = client.reserved_addrs.create(description="py tcp", region="eu")
    assert addr.region == "eu" and ":" in addr.addr, addr
    addr = client.reserved_addrs.update(id=addr.id, metadata="{}")
    assert addr.metadata == "{}", addr

    # The live views decode (no agent is connected here; the end-to-end suite fills them).
    assert list(client.tunnel_sessions.list()) == []
    assert list(client.tunnels.list()) == []
    assert list(client.endpoints.list()) == []

    bot = client.bot_users.update(id=bot.id, active=False)
    assert bot.active is False, bot
    for i in made:
        client.credentials.delete(i)
    try:
        client.credentials.get(made[0])
    except ngrok.NotFoundError:
        pass
    else:
        raise AssertionError("a deleted credential is still there")
    try:
        client.reserved_domains.create(domain="a.*.example.test")
    except ngrok.Error as e:
        assert e.error_code == "ERR_FERRY_245", e.error_code
    else:
        raise AssertionError("a misplaced wildcard was accepted")
    print("ngrok-api client: every call answered as the client expects")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
