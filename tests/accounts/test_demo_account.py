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


def test_a_changed_demo_password_is_not_reset_to_the_default_on_the_next_start(db, capsys, settings):
    settings.DEMO_USERNAME = settings.DEMO_PASSWORD = ""
    call_command("ensure_demo")
    user = User.objects.get(username="demo")
    user.set_password("the-owner-changed-it")
    user.save()

    call_command("ensure_demo")

    user.refresh_from_db()
    assert user.check_password("the-owner-changed-it")
    assert "demo-portal-2024" not in capsys.readouterr().out.splitlines()[-1]


def test_a_deactivated_demo_account_stays_deactivated(db, settings):
    settings.DEMO_USERNAME = settings.DEMO_PASSWORD = ""
    call_command("ensure_demo")
    User.objects.filter(username="demo").update(is_active=False)
    call_command("ensure_demo")
    assert not User.objects.get(username="demo").is_active


def test_restarting_with_the_same_demo_password_keeps_its_api_tokens(db, settings):
    from knox.models import AuthToken

    settings.DEMO_USERNAME, settings.DEMO_PASSWORD = "dr-who", "first-long-password"
    call_command("ensure_demo")
    AuthToken.objects.create(user=User.objects.get(username="dr-who"))
    call_command("ensure_demo")
    assert AuthToken.objects.count() == 1
