from tests.conftest import Harness


async def test_full_flow(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    r = await harness.client.get("/api/v1/users/profile", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert r.status_code == 200
    assert r.json()["email"] == email
