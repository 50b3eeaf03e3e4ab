from django.core.management import call_command

from accounts.models import Team, User


def test_it_creates_the_demo_clinician_and_team_with_a_printed_default(db, capsys, settings):
    settings.DEMO_USERNAME = settings.DEMO_PASSWORD = ""
    call_command("ensure_demo")
    user = User.objects.get(username="demo")
    assert user.role == User.Role.CLINICIAN
    assert Team.objects.get(name="Demo team").members.filter(pk=user.pk).exists()
    output = capsys.readouterr().out
    assert "demo-portal-2024" in output
    assert user.check_password("demo-portal-2024")


def test_it_updates_the_password_from_the_environment_on_every_start(db, capsys, settings):
    settings.DEMO_USERNAME, settings.DEMO_PASSWORD = "dr-who", "first-long-password"
    call_command("ensure_demo")
    settings.DEMO_PASSWORD = "second-long-password"
    call_command("ensure_demo")
    user = User.objects.get(username="dr-who")
    assert user.check_password("second-long-password")
    assert Team.objects.get(name="Demo team").members.count() == 1
    assert "second-long-password" not in capsys.readouterr().out
