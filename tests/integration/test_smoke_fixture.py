from support import DEMO, login


def test_the_ceo_can_sign_in_and_see_the_demo_dashboard(client):
    login(client, "ceo")
    page = client.get(f"/missions/{DEMO}")
    assert page.status_code == 200
    assert "Carbon-neutral UK air travel" in page.text
